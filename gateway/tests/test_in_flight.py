"""The per-caller cap on heavy requests in flight (OCR, X-ray): a stand-in OCR service that holds requests open
until the test lets them go, a real gateway and real Redis. The cap is checked by what callers get back, and the
slots by whether the next request gets through."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from app.openapi_rules import apply_platform_rules

from conftest import bearer, new_user

WAIT_S = 30  # a safety net so a broken test fails instead of hanging; nothing is timed


class _HeldOcr(BaseHTTPRequestHandler):
    """``POST /v1/hold``: waits for ``gate``; ``/v1/stream``: sends a first chunk, then waits for ``gate``;
    ``/v1/fail``: 500; ``/v1/drop``: closes the connection without answering; anything else: 200 at once."""

    gate: threading.Event
    arrived: threading.Semaphore
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, {"service": "ocr"})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.startswith("/v1/hold"):
            self.arrived.release()
            self.gate.wait(WAIT_S)
            self._answer(200, {"done": True})
        elif self.path.startswith("/v1/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"e\r\ndata: started\n\n\r\n")
            self.wfile.flush()
            self.arrived.release()
            self.gate.wait(WAIT_S)
            self.close_connection = True
        elif self.path.startswith("/v1/fail"):
            self._answer(500, {"error": {"code": "internal_error", "message": "boom", "details": {}}})
        elif self.path.startswith("/v1/drop"):
            self.close_connection = True  # no answer at all
        else:
            self._answer(200, {"done": True})


@pytest.fixture
def ocr_stub():
    handler = type("HeldOcr", (_HeldOcr,), {"gate": threading.Event(), "arrived": threading.Semaphore(0)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    handler.gate.set()
    server.shutdown()


def _user(gw):
    _, tokens = new_user(gw)
    return bearer(tokens), gw.get("/api/auth/me", headers=bearer(tokens)).json()["user_id"]


def _open_leases(gw, user_id: str) -> int:
    s = gw.app.state.settings
    with redis.Redis.from_url(s.redis_url) as r:
        return r.zcard(f"{s.redis_key_prefix}inflight:{user_id}")


def _expires_in_ms(gw, user_id: str) -> int:
    s = gw.app.state.settings
    with redis.Redis.from_url(s.redis_url) as r:
        return r.pttl(f"{s.redis_key_prefix}inflight:{user_id}")


def _hold(gw, pool, stub, auth, n: int):
    """``n`` requests that reach the stand-in and stay open there."""
    futures = [pool.submit(gw.post, "/api/ocr/v1/hold", headers=auth, json={}) for _ in range(n)]
    for _ in range(n):
        assert stub.arrived.acquire(timeout=WAIT_S)
    return futures


def test_over_the_cap_is_429_and_other_callers_and_reads_are_not_held_back(make_gateway, ocr_stub):
    url, stub = ocr_stub
    gw = make_gateway(ocr_url=url, in_flight_per_identity=3)
    alice, alice_id = _user(gw)
    bob, _ = _user(gw)
    with ThreadPoolExecutor(4) as pool:
        held = _hold(gw, pool, stub, alice, 3)
        r = gw.post("/api/ocr/v1/quick", headers=alice, json={})
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert err["code"] == "too_many_in_flight"
        assert err["details"]["limit"] == 3
        assert "请" in err["message"] and "Too many" in err["message"]
        assert int(r.headers["retry-after"]) >= 1
        # X-ray is heavy too, and shares the caller's slots (a dead upstream: refused before it is tried).
        assert gw.post("/api/xray/v1/xray/analyses", headers=alice, json={}).json()["error"]["code"] == \
            "too_many_in_flight"
        # Reads are not capped, and another user has slots of their own.
        assert gw.get("/api/ocr/v1/info", headers=alice).status_code == 200
        assert gw.post("/api/ocr/v1/quick", headers=bob, json={}).status_code == 200
        assert _open_leases(gw, alice_id) == 3
        # Held slots lapse on their own if this gateway dies: never later than the route's lease.
        lease_ms = gw.app.state.settings.in_flight_lease_s("POST", "/api/ocr/v1/hold") * 1000
        assert 0 < _expires_in_ms(gw, alice_id) <= lease_ms
        stub.gate.set()
        assert [f.result(timeout=WAIT_S).status_code for f in held] == [200, 200, 200]
    assert _open_leases(gw, alice_id) == 0
    assert gw.post("/api/ocr/v1/quick", headers=alice, json={}).status_code == 200


@pytest.mark.parametrize("path, status", [
    ("/api/ocr/v1/quick", 200),  # success
    ("/api/ocr/v1/fail", 500),  # the service's own error, passed on
    ("/api/ocr/v1/drop", 503),  # the service hung up without answering
])
def test_slot_is_given_back_however_the_request_ends(make_gateway, ocr_stub, path, status):
    url, _ = ocr_stub
    gw = make_gateway(ocr_url=url, in_flight_per_identity=1)
    auth, user_id = _user(gw)
    for _ in range(3):  # with one slot, a leaked one would refuse the second request
        assert gw.post(path, headers=auth, json={}).status_code == status
    assert _open_leases(gw, user_id) == 0


def test_slot_is_given_back_when_the_service_runs_out_of_budget(make_gateway, ocr_stub):
    url, stub = ocr_stub
    gw = make_gateway(ocr_url=url, in_flight_per_identity=1,
                      upstream_budgets_s={"*": 15.0, "POST /api/ocr/v1/hold": 0.2})
    auth, user_id = _user(gw)
    r = gw.post("/api/ocr/v1/hold", headers=auth, json={})
    assert r.status_code == 504 and r.json()["error"]["code"] == "upstream_timeout"
    assert _open_leases(gw, user_id) == 0
    assert gw.post("/api/ocr/v1/quick", headers=auth, json={}).status_code == 200


def test_slot_is_given_back_when_the_client_goes_away_mid_answer(make_gateway, ocr_stub):
    url, stub = ocr_stub
    gw = make_gateway(ocr_url=url, in_flight_per_identity=1)
    auth, user_id = _user(gw)
    with gw.stream("POST", "/api/ocr/v1/stream", headers=auth, json={}) as r:
        assert r.status_code == 200
        assert stub.arrived.acquire(timeout=WAIT_S)
        assert _open_leases(gw, user_id) == 1
    # Leaving the block hangs up while the service is still answering.
    assert _open_leases(gw, user_id) == 0
    assert gw.post("/api/ocr/v1/quick", headers=auth, json={}).status_code == 200


def test_an_expired_lease_frees_its_slot(make_gateway, ocr_stub):
    """A gateway that died mid-request never gave its slots back: their leases lapse instead."""
    url, _ = ocr_stub
    gw = make_gateway(ocr_url=url, in_flight_per_identity=2)
    auth, user_id = _user(gw)
    s = gw.app.state.settings
    key = f"{s.redis_key_prefix}inflight:{user_id}"
    with redis.Redis.from_url(s.redis_url) as r:
        r.zadd(key, {"dead-replica-1": 1, "dead-replica-2": 1})  # lapsed long ago (scores: ms of Redis time)
        assert gw.post("/api/ocr/v1/quick", headers=auth, json={}).status_code == 200
        assert r.zcard(key) == 0
        (now_s, _) = r.time()
        live = (now_s + 3600) * 1000
        r.zadd(key, {"other-replica-1": live, "other-replica-2": live})  # still open elsewhere
        refused = gw.post("/api/ocr/v1/quick", headers=auth, json={})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_in_flight"
        r.delete(key)


def test_api_key_callers_are_capped_by_their_account(make_gateway, ocr_stub, zx_env):
    url, stub = ocr_stub
    gw = make_gateway(ocr_url=url, in_flight_per_identity=1)
    _, admin_tokens = new_user(gw, role="admin", zx_env=zx_env)
    username, _ = new_user(gw, role="integrator", zx_env=zx_env)
    created = gw.post("/api/auth/api-keys", headers=bearer(admin_tokens),
                      json={"username": username, "name": "lab-system", "scopes": ["ocr"]})
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}
    with ThreadPoolExecutor(1) as pool:
        held = _hold(gw, pool, stub, key, 1)
        r = gw.post("/api/ocr/v1/quick", headers=key, json={})
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_in_flight"
        stub.gate.set()
        assert held[0].result(timeout=WAIT_S).status_code == 200
    assert gw.post("/api/ocr/v1/quick", headers=key, json={}).status_code == 200


def test_aggregated_spec_declares_the_cap_on_heavy_routes_only():
    op = lambda: {"responses": {"200": {"description": "ok"}}}  # noqa: E731
    spec = {"paths": {"/api/ocr/v1/lab-reports:parse": {"post": op()}, "/api/ocr/v1/info": {"get": op()},
                      "/api/tips/v1/tips": {"post": op()}}}
    out = apply_platform_rules(spec, ["ocr", "tips"], in_flight=({"ocr", "xray"}, {"POST"}))["paths"]

    def code_429(o):
        return o["responses"]["429"]["content"]["application/json"]["example"]["error"]["code"]

    assert code_429(out["/api/ocr/v1/lab-reports:parse"]["post"]) == "too_many_in_flight"
    assert code_429(out["/api/ocr/v1/info"]["get"]) == "rate_limited"
    assert code_429(out["/api/tips/v1/tips"]["post"]) == "rate_limited"


def test_a_lease_that_lapsed_during_a_slow_upload_is_not_renewed_over_the_cap(make_gateway, ocr_stub):
    """A slot is taken before the body is read, and its lease restarts once the upload is in. An upload slower
    than the lease let the lease lapse, its slot go to other requests, and the renewal put it back over the cap
    (six open leases for a cap of three; found by a review). A lapsed lease is taken again only under the cap."""
    import asyncio

    import redis.asyncio as aredis

    from app.errors import TooManyInFlightError
    from app.ratelimit import InFlightLimiter

    url, _ = ocr_stub
    gw = make_gateway(ocr_url=url)
    s = gw.app.state.settings

    async def scenario():
        client = aredis.Redis.from_url(s.redis_url)
        limiter = InFlightLimiter(client, s.redis_key_prefix + "lapse-test:", retry_after_s=5)
        key = limiter.key("u1")
        await client.delete(key)
        slow = await limiter.acquire("u1", 2, 3600)
        held = await limiter.acquire("u1", 2, 3600)
        await held.renew()  # a lease still open renews at the cap
        await client.zadd(key, {slow.member: 1})  # the slow upload's lease lapsed long ago
        other = await limiter.acquire("u1", 2, 3600)  # its slot went to another request
        with pytest.raises(TooManyInFlightError):
            await slow.renew()
        assert await client.zcard(key) == 2
        await other.release()
        await client.zadd(key, {slow.member: 1})
        await slow.renew()  # under the cap it is taken again
        assert await client.zcard(key) == 2
        for lease in (slow, held):
            await lease.release()
        assert await client.zcard(key) == 0
        await client.aclose()

    asyncio.run(scenario())
