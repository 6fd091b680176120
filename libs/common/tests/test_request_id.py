from zhenxi_common.logs import accept_request_id


def test_well_formed_ids_are_kept():
    for rid in ("trace-abc-123", "0af7651916cd43dd8448eb211c80319c", "req:42.span_7", "a" * 64):
        assert accept_request_id(rid) == rid


def test_anything_else_gets_a_fresh_id():
    for bad in (None, "", "short", "a" * 65, "has space", "new\nline-injected", "-leading", 'q"uote-123', "日本語のリクエスト"):
        minted = accept_request_id(bad)
        assert minted != bad and len(minted) == 32 and int(minted, 16) >= 0
    assert accept_request_id("x" * 80) != accept_request_id("x" * 80)


def test_an_unhandled_error_keeps_its_request_id():
    # Starlette answers an unhandled error outside the request-context middleware: the 500 and its log line
    # still carry the caller's request id (they said '-' before), and the log names the route, not the path
    import logging

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from zhenxi_common.errors import install_error_handlers
    from zhenxi_common.logs import request_id_var
    from zhenxi_common.observability import Metrics, RequestContextMiddleware

    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=Metrics("t"))

    @app.get("/v1/things/{thing_id}")
    async def boom(thing_id: str) -> dict:
        raise RuntimeError("boom")

    seen: list[tuple[str, str | None]] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((request_id_var.get(), getattr(record, "route", None)))

    grab = Grab()
    logging.getLogger("zhenxi.errors").addHandler(grab)
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/v1/things/13800138000", headers={"X-Request-ID": "trace-abc-123"})
    finally:
        logging.getLogger("zhenxi.errors").removeHandler(grab)
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert r.headers.get("X-Request-ID") == "trace-abc-123"
    assert seen == [("trace-abc-123", "/v1/things/{thing_id}")]
