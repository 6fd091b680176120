"""Firing: exactly once across concurrent schedulers and a crashed one, repeat until acknowledged, caregiver
alerts, and delivery over NATS to SSE, webhooks and WeChat."""
import hashlib
import hmac
import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from app.models import Occurrence
from app.scheduler import Scheduler
from zhenxi_common.testing import signed

from factories import drain, make_plan, outbox_events, parse, plan_occurrences, user
from fakes import WebhookReceiver


def _due_events(in_tx, uid, kind="dose"):
    return [e for e in in_tx(lambda s: outbox_events(s, "reminder.due.v1", uid)) if e["kind"] == kind]


def test_two_schedulers_and_a_crash_fire_each_reminder_exactly_once(client, state, in_tx, call):
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["03:17", "09:17", "15:17", "21:17"]})
    occs = plan_occurrences(client, uid, plan["id"])
    assert len(occs) >= 50
    cutoff = parse(occs[len(occs) // 2]["due_at"])
    crashed = occs[len(occs) // 2 + 1]
    a, b = state.scheduler, Scheduler(state.sessionmaker, state.reminders)

    async def crash_then_race():
        import asyncio
        # a replica claims one due row and dies before committing; the others must skip it, then take it over
        now = parse(crashed["due_at"]) + timedelta(seconds=1)
        session = state.sessionmaker()
        tx = await session.begin()
        await session.execute(select(Occurrence.id).where(Occurrence.id == crashed["id"])
                              .with_for_update(skip_locked=True))
        results = await asyncio.gather(*[s.fire_due(now, batch=7) for s in (a, b, a, b)])
        await tx.rollback()
        await session.close()
        return results

    call(crash_then_race)
    drain(call, a, parse(crashed["due_at"]) + timedelta(seconds=2))
    events = _due_events(in_tx, uid)
    firsts = Counter(e["occurrence_id"] for e in events if e["attempt"] == 1)
    expected = {o["id"] for o in occs if parse(o["due_at"]) <= parse(crashed["due_at"])}
    assert set(firsts) == expected and set(firsts.values()) == {1}
    assert crashed["id"] in firsts and cutoff < parse(crashed["due_at"])
    assert max(Counter((e["occurrence_id"], e["attempt"]) for e in events).values()) == 1
    assert all(e["user_id"] == uid and not e["caregiver"] for e in events)


def test_repeats_until_acknowledged_and_alerts_the_caregiver(client, state, in_tx, call):
    s = state.settings
    with WebhookReceiver() as caregiver:
        uid = user()
        plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["04:41"]},
                         caregiver={"name": "女儿", "webhook_url": caregiver.url + "/alert"}, caregiver_after_min=15)
        first, second = plan_occurrences(client, uid, plan["id"])[:2]
        due = parse(first["due_at"])
        for minutes in (0, 5, s.repeat_every_min, 14):
            drain(call, state.scheduler, due + timedelta(minutes=minutes, seconds=1))
        assert [e["attempt"] for e in _due_events(in_tx, uid)] == [1, 2]
        r = client.post(f"/v1/occurrences/{first['id']}:record", json={"state": "taken"}, auth=signed(uid))
        assert r.status_code == 200
        drain(call, state.scheduler, due + timedelta(minutes=100))
        assert [e["attempt"] for e in _due_events(in_tx, uid)] == [1, 2]   # acknowledged: no more, no caregiver

        due2 = parse(second["due_at"])
        for minutes in range(0, 60, 5):
            drain(call, state.scheduler, due2 + timedelta(minutes=minutes, seconds=1))
        events = [e for e in _due_events(in_tx, uid) if e["occurrence_id"] == second["id"]]
        assert [e["attempt"] for e in events if not e["caregiver"]] == list(range(1, s.max_repeats + 2))
        alerts = [e for e in events if e["caregiver"]]
        assert len(alerts) == 1
        deadline = time.monotonic() + 30
        while not caregiver.received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert caregiver.received and caregiver.received[0]["body"]["type"] == "caregiver_alert"
        assert caregiver.received[0]["body"]["occurrence_id"] == second["id"]


def _wait_deliveries(client, uid, occ_id, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.get(f"/v1/occurrences/{occ_id}", auth=signed(uid)).json()["deliveries"]
        if len(got) >= n:
            return got
        time.sleep(0.3)
    raise AssertionError(f"only {got} after {timeout}s")


def test_delivery_to_sse_webhook_and_wechat(client, state, call, wechat):
    with WebhookReceiver() as phone:
        uid = user()
        created = client.post("/v1/devices", json={"kind": "webhook", "url": phone.url + "/hook"}, auth=signed(uid))
        assert created.status_code == 201 and created.json()["secret"]
        secret = created.json()["secret"]
        assert "secret" not in client.get("/v1/devices", auth=signed(uid)).json()["devices"][0]
        for openid in ("o-patient", "refuser"):
            assert client.post("/v1/devices", json={"kind": "wechat", "openid": openid},
                               auth=signed(uid)).status_code == 201
        plan = make_plan(client, uid, drug="氨氯地平", schedule={"kind": "times", "times_of_day": ["05:53"]})
        occ = plan_occurrences(client, uid, plan["id"])[0]
        tokens_before = wechat.tokens_issued
        wechat.expire_next()   # the cached token is rejected once: a fresh one is fetched and the send retried

        stream_body: list[str] = []
        t = threading.Thread(target=lambda: stream_body.append(
            client.get("/v1/stream", params={"max_events": 1}, auth=signed(uid)).text))
        t.start()
        channel = f"{state.settings.redis_key_prefix}reminders:stream:{uid}"
        deadline = time.monotonic() + 10
        while call(state.redis.pubsub_numsub, channel)[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        drain(call, state.scheduler, parse(occ["due_at"]) + timedelta(seconds=1))
        deliveries = _wait_deliveries(client, uid, occ["id"], 4)
        t.join(timeout=20)

        by = sorted((d["channel"], d["status"]) for d in deliveries)
        assert by == [("sse", "sent"), ("webhook", "sent"), ("wechat", "refused"), ("wechat", "sent")]
        assert "errcode 43101" in [d["detail"] for d in deliveries if d["status"] == "refused"][0]
        hook = phone.received[0]
        assert hook["body"]["occurrence_id"] == occ["id"] and hook["body"]["drug"] == "氨氯地平"
        ts = hook["headers"]["x-zhenxi-timestamp"]
        expected = hmac.new(secret.encode(), ts.encode() + b"." + hook["raw"], hashlib.sha256).hexdigest()
        assert hook["headers"]["x-zhenxi-signature"] == f"v1={expected}"
        sent = [m for m in wechat.received if m["touser"] == "o-patient"]
        assert sent and sent[-1]["template_id"] == "tmpl-dose" and sent[-1]["data"]["thing1"]["value"] == "氨氯地平"
        assert wechat.tokens_issued > tokens_before
        assert stream_body and "event: reminder" in stream_body[0] and occ["id"] in stream_body[0]


def test_the_horizon_rolls_forward(client, state, call):
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["07:07"]})
    before = plan_occurrences(client, uid, plan["id"])
    last = max(parse(o["due_at"]) for o in before)
    # ten days on, the scheduler's housekeeping tops the plan up to a full horizon again
    later = last - timedelta(days=state.settings.horizon_days - 10)
    for _ in range(100):
        if call(state.scheduler.top_up, later) == 0:
            break
    r = client.get("/v1/occurrences", params={"from": last.isoformat(), "to": (last + timedelta(days=30)).isoformat()},
                   auth=signed(uid))
    added = [o for o in r.json()["occurrences"] if o["plan_id"] == plan["id"] and o["kind"] == "dose"]
    assert len(added) >= 9 and all(parse(o["due_at"]) - parse(added[0]["due_at"]) < timedelta(days=14)
                                   for o in added)
    assert len({o["due_at"] for o in added}) == len(added)


def test_sse_reconnect_replays_unacknowledged_reminders(client, state, call):
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["06:29"]})
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = parse(occ["due_at"])
    drain(call, state.scheduler, due + timedelta(seconds=1))   # sent while no stream was open
    last_seen = str(int((due - timedelta(minutes=1)).timestamp() * 1000))
    body = client.get("/v1/stream", params={"max_events": 1}, headers={"Last-Event-ID": last_seen},
                      auth=signed(uid)).text
    assert "event: reminder" in body and occ["id"] in body
    assert f"id: {int((due + timedelta(seconds=1)).timestamp() * 1000)}" in body
    client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    body = client.get("/v1/stream", params={"max_duration_s": 1}, headers={"Last-Event-ID": last_seen},
                      auth=signed(uid)).text
    assert "event: reminder" not in body     # acknowledged: nothing to replay
    r = client.get("/v1/stream", headers={"Last-Event-ID": "yesterday"}, auth=signed(uid))
    assert r.status_code == 422
