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


def test_a_reminder_that_arrives_after_its_dose_was_recorded_is_not_pushed(client, state, in_tx):
    """The patient records the dose while its reminder is on its way (fired, not yet delivered): neither the open
    stream, nor a device, nor the caregiver is told to take it; the delivery ledger says why."""
    from zhenxi_common.events import ReminderDueV1

    from app.channels import stream_channel

    with WebhookReceiver() as phone:
        uid = user()
        assert client.post("/v1/devices", json={"kind": "webhook", "url": phone.url + "/hook"},
                           auth=signed(uid)).status_code == 201
        plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["06:31"]})
        occ = plan_occurrences(client, uid, plan["id"])[0]
        late = [ReminderDueV1(user_id=uid, occurrence_id=occ["id"], plan_id=plan["id"], due_at=parse(occ["due_at"]),
                              attempt=1),
                ReminderDueV1(user_id=uid, occurrence_id=occ["id"], plan_id=plan["id"], due_at=parse(occ["due_at"]),
                              attempt=2, caregiver=True)]
        recorded = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
        assert recorded.status_code == 200 and recorded.json()["state"] == "taken"

        async def deliver_late(session):
            pubsub = state.redis.pubsub()
            await pubsub.subscribe(stream_channel(state.settings.redis_key_prefix, uid))
            try:
                for event in late:
                    await state.dispatcher.handle(session, event)
                pushed = []
                for _ in range(5):    # the first read may return the subscribe confirmation (as None)
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
                    if msg is not None:
                        pushed.append(msg["data"])
                return pushed
            finally:
                await pubsub.aclose()
        assert in_tx(deliver_late) == []              # nothing on the patient's stream
        deliveries = client.get(f"/v1/occurrences/{occ['id']}", auth=signed(uid)).json()["deliveries"]
        assert sorted((d["channel"], d["status"], d["attempt"]) for d in deliveries) == [
            ("caregiver", "withdrawn", 2), ("sse", "withdrawn", 1)]
        assert phone.received == []


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


def test_a_reminder_claimed_ahead_goes_out_at_its_due_time_not_before(client, state, in_tx, call):
    """The scheduler claims what falls due within its look-ahead and stages it with ``not_before`` = due time; the
    relay publishes it at that time (woken by the scheduler), never earlier, exactly once."""
    from datetime import UTC, datetime

    from sqlalchemy import text
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["05:43"]})
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)

    async def move_due(session):   # test set-up: this occurrence falls due 3 s from now on the real clock
        await session.execute(text("UPDATE reminders.occurrences SET due_at = :d, next_fire_at = :d WHERE id = :i"),
                              {"d": due, "i": occ["id"]})
    in_tx(move_due)

    async def outbox_row(session):
        return (await session.execute(text(
            "SELECT payload, not_before, published_at FROM reminders.outbox WHERE subject = 'reminder.due.v1' "
            "AND payload->>'occurrence_id' = :i"), {"i": occ["id"]})).all()

    call(state.scheduler.fire_due, None, None, 0.5)       # due in 3 s: outside a 0.5 s look-ahead
    assert in_tx(outbox_row) == []
    assert call(state.scheduler.fire_due, None, None, 30.0) >= 1
    [(payload, not_before, published_at)] = in_tx(outbox_row)
    assert not_before == due and parse(payload["occurred_at"]) == due and payload["attempt"] == 1
    async def occ_row(session):
        return (await session.execute(text("SELECT last_fired_at, fire_count, state FROM reminders.occurrences "
                                           "WHERE id = :i"), {"i": occ["id"]})).one()
    assert tuple(in_tx(occ_row)) == (due, 1, "due")
    if datetime.now(UTC) < due - timedelta(seconds=0.5):
        assert published_at is None                           # staged, held back
    deadline = time.monotonic() + 20
    while published_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
        [(payload, not_before, published_at)] = in_tx(outbox_row)
    assert published_at is not None and published_at >= due
    call(state.scheduler.fire_due, None, None, 30.0)     # nothing left to claim for it: still one event
    assert len(in_tx(outbox_row)) == 1


def test_a_dose_recorded_before_its_staged_reminder_goes_out_withdraws_it(client, state, in_tx, call):
    from datetime import UTC, datetime

    from sqlalchemy import text
    uid = user()
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["05:47"]})
    occ = plan_occurrences(client, uid, plan["id"])[0]
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=40)

    async def move_due(session):
        await session.execute(text("UPDATE reminders.occurrences SET due_at = :d, next_fire_at = :d WHERE id = :i"),
                              {"d": due, "i": occ["id"]})
    in_tx(move_due)

    async def staged(session):
        return (await session.execute(text(
            "SELECT published_at FROM reminders.outbox WHERE subject = 'reminder.due.v1' "
            "AND payload->>'occurrence_id' = :i"), {"i": occ["id"]})).all()
    assert call(state.scheduler.fire_due, None, None, 60.0) >= 1
    assert [tuple(r) for r in in_tx(staged)] == [(None,)]
    r = client.post(f"/v1/occurrences/{occ['id']}:record", json={"state": "taken"}, auth=signed(uid))
    assert r.status_code == 200 and r.json()["state"] == "taken"
    assert in_tx(staged) == []                                   # withdrawn: no reminder for a dose already taken
    assert call(state.scheduler.fire_due, None, None, 60.0) >= 0
    assert in_tx(staged) == []

    # a plan deleted while its next reminder is staged: withdrawn too
    occ = plan_occurrences(client, uid, plan["id"])[1]
    due = due + timedelta(seconds=5)
    in_tx(move_due)
    assert call(state.scheduler.fire_due, None, None, 60.0) >= 1
    assert [tuple(r) for r in in_tx(staged)] == [(None,)]
    assert client.delete(f"/v1/plans/{plan['id']}", auth=signed(uid)).status_code == 204
    assert in_tx(staged) == []
