"""The rush lane: a hold attempt on a session the live count shows sold out or closed is refused from Redis alone
(no Postgres), with the same error shape as any refusal; every other request goes on to FastAPI unchanged."""
import json
import logging
import uuid

from zhenxi_common.testing import signed

from .conftest import ADMIN, hold, make_session


def _cache(client, svc, sid: str, remaining: int, status: str = "open") -> None:
    client.portal.call(lambda: svc.slots.redis.hset(svc.slots.key(sid), mapping={"r": remaining, "v": 1,
                                                                                  "s": status}))


def _count_hold_calls(svc, monkeypatch) -> list[int]:
    """Counts calls of the route's use case: the lane answers without reaching it."""
    calls: list[int] = []
    real = svc.hold

    async def counted(*args, **kwargs):
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(svc, "hold", counted)
    return calls


def test_sold_out_is_refused_from_the_cache_without_postgres(client, svc, monkeypatch):
    # A session Postgres has never heard of, but that the cache says is sold out: only a refusal that never asked
    # Postgres can answer 409 session_full here (Postgres would say 404).
    ghost = str(uuid.uuid4())
    _cache(client, svc, ghost, 0)
    calls = _count_hold_calls(svc, monkeypatch)
    try:
        r = hold(client, ghost, "lane-1")
        assert r.status_code == 409, r.text
        assert calls == []  # answered before routing
        assert r.json() == {"error": {"code": "session_full", "message": r.json()["error"]["message"],
                                      "details": {"field": "session_id", "source": "live_count"}}}
        assert r.headers["content-type"] == "application/json"
        assert r.headers.get("x-request-id")
        # an upper-case id is the same session
        assert hold(client, ghost.upper(), "lane-2").json()["error"]["code"] == "session_full"
        # closed beats everything
        _cache(client, svc, ghost, 3, "closed")
        assert hold(client, ghost, "lane-1").json()["error"]["code"] == "session_closed"
        # a free slot in the cache goes on to Postgres, which decides (here: no such session)
        _cache(client, svc, ghost, 3)
        r = hold(client, ghost, "lane-1")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "session_not_found")
        assert calls == [1]
    finally:
        client.portal.call(lambda: svc.slots.redis.delete(svc.slots.key(ghost)))


def test_requests_the_lane_does_not_judge_go_to_fastapi(client, svc, monkeypatch):
    ghost = str(uuid.uuid4())
    _cache(client, svc, ghost, 0)
    calls = _count_hold_calls(svc, monkeypatch)
    user = signed("lane-3")
    try:
        # an unknown field: FastAPI's validation refuses it, as it would without the lane
        r = client.post("/v1/holds", json={"session_id": ghost, "extra": 1}, auth=user)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
        # not JSON
        r = client.post("/v1/holds", content=json.dumps({"session_id": ghost}),
                        headers={"content-type": "text/plain"}, auth=user)
        assert r.status_code == 422
        # not a UUID
        r = client.post("/v1/holds", json={"session_id": "not-a-uuid"}, auth=user)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
        # no gateway identity: refused before the lane
        r = client.post("/v1/holds", json={"session_id": ghost})
        assert r.status_code == 401
        # a body that is not small is left to FastAPI too (and still judged by the same rule there)
        padded = '{"session_id": "%s"%s}' % (ghost, " " * 600)
        r = client.post("/v1/holds", content=padded, headers={"content-type": "application/json"}, auth=user)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "session_full")
        assert calls == [1]  # only the padded body reached the route
    finally:
        client.portal.call(lambda: svc.slots.redis.delete(svc.slots.key(ghost)))


def test_last_slot_double_tap_and_sold_out_through_the_lane(client, svc):
    s = make_session(client, capacity=1)
    sid = s["id"]
    first = hold(client, sid, "lane-winner")
    assert first.status_code == 201
    # the cache now says 0: others are refused by the lane, the holder's double tap gets their hold back
    r = hold(client, sid, "lane-loser")
    assert r.json()["error"] == {"code": "session_full", "message": r.json()["error"]["message"],
                                 "details": {"field": "session_id", "source": "live_count"}}
    again = hold(client, sid, "lane-winner")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    # releasing the hold frees the slot at once: the next attempt passes the lane and Postgres gives it out
    assert client.delete(f"/v1/holds/{first.json()['id']}", auth=signed("lane-winner")).status_code == 204
    assert hold(client, sid, "lane-loser").status_code == 201
    assert client.get(f"/v1/sessions/{sid}", auth=ADMIN).json()["remaining"] == 0


def test_a_lane_refusal_writes_the_access_line_with_the_route(client, svc, caplog):
    ghost = str(uuid.uuid4())
    _cache(client, svc, ghost, 0)
    try:
        with caplog.at_level(logging.INFO, logger="zhenxi.access"):
            assert hold(client, ghost, "lane-4").status_code == 409
        lines = [r for r in caplog.records if r.name == "zhenxi.access"]
        assert [(r.route, r.status, r.method) for r in lines] == [("/v1/holds", 409, "POST")]
    finally:
        client.portal.call(lambda: svc.slots.redis.delete(svc.slots.key(ghost)))


def test_attempts_queued_behind_the_last_slot_are_refused_from_the_cache(client, svc, monkeypatch):
    """30 simultaneous attempts on 2 slots in one process: they pass the live count together (it says 2), but
    only the two that take a slot run a Postgres transaction; the others waited and are refused from Redis."""
    import asyncio

    from app.errors import SessionFullError

    sid = uuid.UUID(make_session(client, capacity=2)["id"])
    calls: list[str] = []
    real = svc._hold_in_postgres

    async def counted(user_id, session_id):
        calls.append(user_id)
        return await real(user_id, session_id)

    monkeypatch.setattr(svc, "_hold_in_postgres", counted)

    async def race():
        return await asyncio.gather(*(svc.hold(f"queue-{i}", sid) for i in range(30)), return_exceptions=True)

    results = client.portal.call(race)
    held = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, SessionFullError)]
    assert (len(held), len(refused)) == (2, 28), results
    assert all(r.details.get("source") == "live_count" for r in refused)
    assert len(calls) == 2
    assert client.get(f"/v1/sessions/{sid}", auth=ADMIN).json()["remaining"] == 0


def test_http_attempts_queued_behind_the_last_slot_are_refused_by_the_lane(client, svc, monkeypatch):
    """The same race through the HTTP app: 30 concurrent requests for 2 slots; the lane queues them on the
    session's turn, so only the two winners reach the route (and Postgres); 28 are refused before routing."""
    import asyncio

    import httpx

    sid = make_session(client, capacity=2)["id"]
    calls = _count_hold_calls(svc, monkeypatch)

    async def race():
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking") as c:
            return await asyncio.gather(*(c.post("/v1/holds", json={"session_id": sid}, auth=signed(f"h-{i}"))
                                          for i in range(30)))

    responses = client.portal.call(race)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 2 + [409] * 28
    assert {r.json()["error"]["details"]["source"] for r in responses if r.status_code == 409} == {"live_count"}
    assert len(calls) == 2
    assert svc._hold_gates == {}  # turns are dropped when nobody waits
