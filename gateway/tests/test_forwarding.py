"""What the gateway passes on to a service and what it believes about the caller (issue #11, points 4 and 6):
a real tips service behind a header recorder, real Redis and Postgres."""
import json

from zhenxi_common.identity import IDENTITY_HEADERS, Identity

from conftest import bearer, new_user


def _values(seen: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in seen if k == name]


def test_every_client_zhenxi_header_is_stripped(make_gateway, header_recorder):
    url, seen = header_recorder
    gw = make_gateway(tips_url=url)
    _, tokens = new_user(gw)
    forged = {"X-Zhenxi-User": "someone-else", "X-Zhenxi-Role": "admin", "X-Zhenxi-Scopes": "*"}
    r = gw.get("/api/tips/v1/info", headers={**bearer(tokens), **forged})
    assert r.status_code == 200, r.text
    sent = seen[-1]
    assert {k for k, _ in sent if k.startswith("x-zhenxi-")} == set(IDENTITY_HEADERS)
    identity = Identity.from_header(_values(sent, "x-zhenxi-identity")[0])
    assert identity.role == "patient" and identity.user_id != "someone-else"
    assert r.json()["caller"]["role"] == "patient"


def test_forwarded_for_is_sent_once_and_is_the_peer(make_gateway, header_recorder):
    url, seen = header_recorder
    gw = make_gateway(tips_url=url, client=("203.0.113.7", 4000))
    _, tokens = new_user(gw)
    r = gw.get("/api/tips/v1/info", headers={**bearer(tokens), "X-Forwarded-For": "10.9.9.1",
                                             "Forwarded": "for=10.9.9.2", "X-Real-IP": "10.9.9.3"})
    assert r.status_code == 200, r.text
    assert _values(seen[-1], "x-forwarded-for") == ["203.0.113.7"]
    assert not _values(seen[-1], "forwarded") and not _values(seen[-1], "x-real-ip")


def test_trusted_proxy_chain_names_the_client(make_gateway, header_recorder):
    url, seen = header_recorder
    gw = make_gateway(tips_url=url, client=("10.0.0.5", 4000), trusted_proxies="10.0.0.0/24")
    _, tokens = new_user(gw)
    # The client forged the left part; the trusted proxy appended the address it saw on the right.
    r = gw.get("/api/tips/v1/info", headers={**bearer(tokens), "X-Forwarded-For": "1.1.1.1, 198.51.100.9"})
    assert r.status_code == 200
    assert _values(seen[-1], "x-forwarded-for") == ["198.51.100.9"]


def test_forwarded_for_from_an_untrusted_peer_gets_no_fresh_bucket(make_gateway):
    gw = make_gateway(client=("203.0.113.8", 4000), rate_limit_auth_per_ip=3)
    codes = [gw.post("/api/auth/login", json={"username": f"ghost{i}", "password": "guess-guess"},
                     headers={"X-Forwarded-For": f"10.9.9.{i}"}).status_code for i in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]


def test_forwarded_for_from_a_trusted_proxy_is_believed(make_gateway):
    gw = make_gateway(client=("127.0.0.1", 4000), rate_limit_auth_per_ip=2, trusted_proxies="127.0.0.1")
    login = {"username": "ghost", "password": "guess-guess"}
    a = [gw.post("/api/auth/login", json=login, headers={"X-Forwarded-For": "198.51.100.1"}).status_code
         for _ in range(3)]
    b = gw.post("/api/auth/login", json=login, headers={"X-Forwarded-For": "198.51.100.2"}).status_code
    assert a == [401, 401, 429] and b == 401


def test_request_id_kept_only_when_well_formed(make_gateway, header_recorder):
    url, seen = header_recorder
    gw = make_gateway(tips_url=url)
    _, tokens = new_user(gw)
    good = "trace-abc-123:span.7_x"
    r = gw.get("/api/tips/v1/info", headers={**bearer(tokens), "X-Request-ID": good})
    assert r.headers["x-request-id"] == good and _values(seen[-1], "x-request-id") == [good]
    for bad in ("x" * 65, "short", "has space in it", 'quote"injection-1', "../../etc/passwd", "-leading-dash"):
        r = gw.get("/api/tips/v1/info", headers={**bearer(tokens), "X-Request-ID": bad})
        minted = r.headers["x-request-id"]
        assert minted != bad and len(minted) == 32 and int(minted, 16) >= 0, (bad, minted)
        assert _values(seen[-1], "x-request-id") == [minted]
        assert json.loads(r.text)["service"] == "tips"
