from zhenxi_common.logs import accept_request_id


def test_well_formed_ids_are_kept():
    for rid in ("trace-abc-123", "0af7651916cd43dd8448eb211c80319c", "req:42.span_7", "a" * 64):
        assert accept_request_id(rid) == rid


def test_anything_else_gets_a_fresh_id():
    for bad in (None, "", "short", "a" * 65, "has space", "new\nline-injected", "-leading", 'q"uote-123', "日本語のリクエスト"):
        minted = accept_request_id(bad)
        assert minted != bad and len(minted) == 32 and int(minted, 16) >= 0
    assert accept_request_id("x" * 80) != accept_request_id("x" * 80)
