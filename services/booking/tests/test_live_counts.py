"""Live slot counts: the Redis cache follows every change, heals from Postgres, and SSE pushes changes."""
import json
import threading
import time

from zhenxi_common.testing import signed

from .conftest import book, hold, make_session

U = signed("watcher")


def test_cache_follows_changes_and_heals_on_mismatch(client, svc):
    s = make_session(client, capacity=4)
    sid = s["id"]
    r = client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()
    assert (r["remaining"], r["source"]) == (4, "cache")   # written when the session was created
    b = book(client, sid, "w1").json()
    assert client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()["remaining"] == 3
    client.post(f"/v1/bookings/{b['id']}:cancel", auth=signed("w1"))
    assert client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()["remaining"] == 4

    # Corrupt the entry (a wrong count with a version from the future): a database read heals it.
    client.portal.call(lambda: svc.slots.redis.hset(svc.slots.key(sid), mapping={"r": 99, "v": 10_000}))
    assert client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()["remaining"] == 99
    client.get(f"/v1/doctors/{s['doctor_id']}/sessions", auth=U)
    assert client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()["remaining"] == 4

    # A flushed cache falls back to Postgres and is filled again.
    client.portal.call(lambda: svc.slots.redis.delete(svc.slots.key(sid)))
    r = client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()
    assert (r["remaining"], r["source"]) == (4, "database")
    assert client.get(f"/v1/sessions/{sid}/remaining", auth=U).json()["source"] == "cache"


def test_sse_pushes_changes(client, svc):
    s = make_session(client, capacity=3)
    sid = s["id"]
    result = {}

    def listen():
        r = client.get(f"/v1/sessions/{sid}/events?max_events=2", auth=U)
        result["status"] = r.status_code
        result["type"] = r.headers["content-type"]
        result["body"] = r.text

    t = threading.Thread(target=listen)
    t.start()
    channel = svc.slots.channel(sid)
    for _ in range(200):  # wait until the stream has subscribed (bounded)
        subs = client.portal.call(lambda: svc.slots.redis.pubsub_numsub(channel))
        if subs and subs[0][1] >= 1:
            break
        time.sleep(0.05)
    assert hold(client, sid, "sse-user").status_code == 201
    t.join(timeout=20)
    assert not t.is_alive()
    assert result["status"] == 200 and result["type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: "):]) for line in result["body"].splitlines() if line.startswith("data: ")]
    assert [e["remaining"] for e in events] == [3, 2]
