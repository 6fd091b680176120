from conftest import bearer, new_user, sql


def test_per_user_rate_limit_returns_429_with_retry_after(make_gateway):
    gw = make_gateway(rate_limit_per_user=3)
    _, tokens = new_user(gw)
    codes = [gw.get("/api/tips/v1/info", headers=bearer(tokens)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = gw.get("/api/tips/v1/info", headers=bearer(tokens))
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Another user is not affected by the first one's limit.
    _, other = new_user(gw)
    assert gw.get("/api/tips/v1/info", headers=bearer(other)).status_code == 200


def test_per_ip_limit_on_credential_attempts(make_gateway):
    gw = make_gateway(rate_limit_auth_per_ip=3)
    codes = [gw.post("/api/auth/login", json={"username": "ghost", "password": "guess-guess"}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_wechat_login_creates_then_reuses_account(gateway, zx_env):
    first = gateway.post("/api/auth/wechat", json={"code": "code-alice-1"})
    assert first.status_code == 200, first.text
    second = gateway.post("/api/auth/wechat", json={"code": "code-alice-2"})
    me1 = gateway.get("/api/auth/me", headers=bearer(first.json())).json()
    me2 = gateway.get("/api/auth/me", headers=bearer(second.json())).json()
    assert me1["user_id"] == me2["user_id"]
    bob = gateway.post("/api/auth/wechat", json={"code": "code-bob"}).json()
    assert gateway.get("/api/auth/me", headers=bearer(bob)).json()["user_id"] != me1["user_id"]
    # The openid itself is never stored.
    rows = sql(zx_env, "SELECT count(*) FROM gateway.users WHERE wechat_openid_hmac = 'oAlice123' "
                       "OR username LIKE '%oAlice%'")
    assert rows[0][0] == 0


def test_wechat_rejects_bad_and_reused_codes(gateway):
    r = gateway.post("/api/auth/wechat", json={"code": "made-up"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "wechat_code_invalid"
    r = gateway.post("/api/auth/wechat", json={"code": "code-alice-1"})  # used in the previous test or now
    r = gateway.post("/api/auth/wechat", json={"code": "code-alice-1"})
    assert r.status_code == 401 and r.json()["error"]["details"]["errcode"] == 40163
    assert gateway.post("/api/auth/wechat", json={"code": ""}).status_code == 422


def test_wechat_down_is_502(make_gateway):
    from zhenxi_common.testing import free_port

    gw = make_gateway(wechat_api_base=f"http://127.0.0.1:{free_port()}")
    r = gw.post("/api/auth/wechat", json={"code": "code-bob"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "wechat_unavailable"
