"""The release path (relay.py): staged reminders go out at their due time, never before, pipelined in batches, and
exactly once when a replica dies between sending and marking sent, or while holding claimed rows.

Each test pauses the app's own relay and drives relays by hand, against the real Postgres and NATS JetStream; what
the stream holds is read back from JetStream itself."""
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.models import outbox
from app.relay import DrainingRelay
from app.scheduler import Scheduler
from zhenxi_common.testing import signed

from factories import make_plan, parse, plan_occurrences, user
from fakes import WebhookReceiver

SHANGHAI = ZoneInfo("Asia/Shanghai")   # the zone of the factories' plans


def _relay(state, **kw) -> DrainingRelay:
    return DrainingRelay(state.sessionmaker, outbox, state.bus, **kw)


def _last_seq(call, state) -> int:
    async def go():
        return (await state.bus.js.stream_info(state.bus.stream)).state.last_seq
    return call(go)


def _stream_since(call, state, after_seq: int) -> list[tuple[str, dict, datetime]]:
    """(event id, payload, JetStream's stored timestamp) of every reminder.due.v1 stored after ``after_seq``."""
    import json

    async def go():
        js = state.bus.js
        sub = await js.pull_subscribe(state.bus.wire_subject("reminder.due.v1"), stream=state.bus.stream,
                                      config=ConsumerConfig(ack_policy=AckPolicy.NONE,
                                                            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                                            opt_start_seq=after_seq + 1))
        out = []
        try:
            while True:
                try:
                    msgs = await sub.fetch(500, timeout=1.0)
                except Exception:  # noqa: BLE001 - nats' TimeoutError: nothing more stored
                    break
                for m in msgs:
                    ev = json.loads(m.data)
                    out.append((ev["event_id"], ev, m.metadata.timestamp))
        finally:
            await sub.unsubscribe()
        return out
    return call(go)


def _unsent(in_tx, event_ids) -> set[str]:
    async def go(session):
        rows = await session.execute(text("SELECT event_id FROM reminders.outbox WHERE published_at IS NULL "
                                          "AND event_id = ANY(CAST(:ids AS uuid[]))"), {"ids": list(event_ids)})
        return {str(r[0]) for r in rows}
    return in_tx(go)


def _staged_ids(in_tx, occ_ids) -> list[str]:
    async def go(session):
        rows = await session.execute(text("SELECT event_id FROM reminders.outbox WHERE subject = 'reminder.due.v1' "
                                          "AND payload->>'occurrence_id' = ANY(:o)"), {"o": list(occ_ids)})
        return [str(r[0]) for r in rows]
    return in_tx(go)


cleanup: list = []


@pytest.fixture(autouse=True)
def _delete_plans_after():
    """The plans made here are deleted after each test: their repeat reminders must not fire into later tests (which
    drive the scheduler with clocks of their own)."""
    yield
    while cleanup:
        cleanup.pop()()


def _in_the_future(times: list[str]) -> tuple[list[str], str]:
    """``times`` (same gaps) moved to start two hours from now on the real clock, in the plan's zone, and that
    date: no occurrence of the plan falls due on the real clock while the test runs, so the app's own scheduler
    (which keeps running) never fires one of them beside the test's chosen clock."""
    base = (datetime.now(SHANGHAI) + timedelta(hours=2)).replace(second=0, microsecond=0)
    if base.hour == 23 and base.minute >= 40:   # keep every time on one day
        base += timedelta(minutes=30)
    first = datetime.strptime(times[0], "%H:%M")
    return [(base + (datetime.strptime(t, "%H:%M") - first)).strftime("%H:%M") for t in times], base.date().isoformat()


def _stage_now(client, call, state, uid, times) -> list[dict]:
    """A plan's first occurrence of each time, claimed on a chosen clock just after they fell due: staged to go out
    at once (no ``not_before``). The plan has no stock: a refill reminder (09:00 local on the day the forecast
    says) would be due on that clock too whenever the test runs after 07:00 local, and reach the test's phone."""
    times, start = _in_the_future(times)
    plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": times}, start_date=start, stock=None)
    occs = plan_occurrences(client, uid, plan["id"])[:len(times)]
    cleanup.append(lambda: client.delete(f"/v1/plans/{plan['id']}", auth=signed(uid)))
    sched = Scheduler(state.sessionmaker, state.reminders)
    now = max(parse(o["due_at"]) for o in occs) + timedelta(seconds=1)
    while call(sched.fire_due, now) > 0:
        pass
    return occs


def test_a_crash_between_publish_and_marking_sent_delivers_once(client, state, call, in_tx, paused_relay):
    """A replica that dies after JetStream acked its batch but before it marked the rows sent: the rows stay unsent
    and another relay sends them again with the same msg-id. JetStream keeps one copy; the channels deliver once."""
    with WebhookReceiver() as phone:
        uid = user()
        device = client.post("/v1/devices", json={"kind": "webhook", "url": phone.url + "/hook"}, auth=signed(uid))
        assert device.status_code == 201
        cleanup.append(lambda: client.delete(f"/v1/devices/{device.json()['id']}", auth=signed(uid)))
        seq = _last_seq(call, state)
        occs = _stage_now(client, call, state, uid, ["02:11", "02:12", "02:13"])
        ids = _staged_ids(in_tx, [o["id"] for o in occs])
        assert len(ids) == 3

        dying = _relay(state, batch_size=50, depth=2)

        async def killed(session, failed):
            raise RuntimeError("replica killed after publish, before commit")
        dying._settle = killed
        with pytest.raises(RuntimeError, match="killed"):
            call(dying.flush_once)
        assert _unsent(in_tx, ids) == set(ids)                   # nothing marked sent ...
        first = Counter(mid for mid, _, _ in _stream_since(call, state, seq))
        assert set(ids) <= set(first)                            # ... but all of it reached JetStream

        assert call(_relay(state, batch_size=2, depth=2).flush_once) >= 3    # the survivor sends them again
        assert _unsent(in_tx, ids) == set()
        stored = [(mid, ev) for mid, ev, _ in _stream_since(call, state, seq) if mid in ids]
        assert sorted(mid for mid, _ in stored) == sorted(ids)  # one copy each: the msg-id dedupe dropped the re-send
        assert {ev["occurrence_id"] for _, ev in stored} == {o["id"] for o in occs}

        deadline = time.monotonic() + 30
        while len(phone.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)                                          # room for a duplicate to show up, if there were one
        assert sorted(h["body"]["occurrence_id"] for h in phone.received) == sorted(o["id"] for o in occs)
        for o in occs:
            got = client.get(f"/v1/occurrences/{o['id']}", auth=signed(uid)).json()["deliveries"]
            assert [d["channel"] for d in got].count("webhook") == 1


def test_rows_held_by_a_killed_relay_are_taken_over(client, state, call, in_tx, paused_relay):
    """A relay that claimed rows (row locks, mid-publish) is skipped by the others while it lives; when its process
    dies its connection goes, Postgres releases the rows and the next pass sends them, once."""
    uid = user()
    seq = _last_seq(call, state)
    occs = _stage_now(client, call, state, uid, ["02:21", "02:22"])
    ids = _staged_ids(in_tx, [o["id"] for o in occs])
    assert len(ids) == 2
    dsn = make_url(state.settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def hold():
        conn = await asyncpg.connect(dsn)   # the other replica's own connection
        tx = conn.transaction()
        await tx.start()
        got = await conn.fetch("SELECT event_id FROM reminders.outbox WHERE event_id = ANY($1::uuid[]) "
                               "FOR UPDATE SKIP LOCKED", ids)
        return conn, len(got)
    conn, held = call(hold)
    assert held == 2
    survivor = _relay(state, batch_size=100)
    call(survivor.flush_once)
    assert _unsent(in_tx, ids) == set(ids)                       # locked: skipped, not sent twice
    assert not [m for m, _, _ in _stream_since(call, state, seq) if m in ids]

    async def kill():
        conn.terminate()                                         # the socket closes as in a SIGKILL; no rollback sent
    call(kill)
    deadline = time.monotonic() + 20
    while _unsent(in_tx, ids) and time.monotonic() < deadline:  # Postgres notices the dead backend's socket
        call(survivor.flush_once)
        time.sleep(0.1)
    assert _unsent(in_tx, ids) == set()
    assert sorted(m for m, _, _ in _stream_since(call, state, seq) if m in ids) == sorted(ids)


def test_the_release_path_sends_nothing_before_its_time(client, state, call, in_tx, paused_relay):
    """Reminders claimed ahead wait for their due time even when a pass runs earlier: JetStream's own timestamp of
    each is at or after its due time; those already due go out at once, pipelined over several batches."""
    uid = user()
    seq = _last_seq(call, state)
    now_occs = _stage_now(client, call, state, uid, ["03:01", "03:02", "03:03", "03:04", "03:05"])
    now_ids = _staged_ids(in_tx, [o["id"] for o in now_occs])
    later_plan = make_plan(client, uid, schedule={"kind": "times", "times_of_day": ["03:31"]})
    cleanup.append(lambda: client.delete(f"/v1/plans/{later_plan['id']}", auth=signed(uid)))
    later = plan_occurrences(client, uid, later_plan["id"])[0]
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)

    async def move_due(session):   # set-up: this occurrence falls due 3 s from now on the real clock
        await session.execute(text("UPDATE reminders.occurrences SET due_at = :d, next_fire_at = :d WHERE id = :i"),
                              {"d": due, "i": later["id"]})
    in_tx(move_due)
    assert call(Scheduler(state.sessionmaker, state.reminders).fire_due, None, None, 30.0) >= 1   # claimed ahead
    [later_id] = _staged_ids(in_tx, [later["id"]])

    relay = _relay(state, batch_size=2, depth=2)
    assert call(relay.flush_once) >= 5                           # 3 batches of <= 2, all of the due ones
    if datetime.now(UTC) < due - timedelta(seconds=0.3):
        assert _unsent(in_tx, [later_id]) == {later_id}          # held back
    assert _unsent(in_tx, now_ids) == set()
    while datetime.now(UTC) < due - timedelta(seconds=0.3):
        call(relay.flush_once)
        assert _unsent(in_tx, [later_id]) == {later_id}
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    while _unsent(in_tx, [later_id]) and time.monotonic() < deadline:
        call(relay.flush_once)
        time.sleep(0.1)
    stored = {m: ts for m, _, ts in _stream_since(call, state, seq)}
    assert set(now_ids) | {later_id} <= set(stored)
    assert stored[later_id] >= due                               # in the stream no earlier than its due time
    call(relay.flush_once)                                       # another pass re-sends nothing marked sent
    counts = Counter(m for m, _, _ in _stream_since(call, state, seq))
    assert {counts[m] for m in now_ids + [later_id]} == {1}


def test_a_batch_jetstream_refuses_stays_unsent_and_goes_out_later(client, state, call, in_tx, paused_relay):
    """Messages JetStream does not ack (here: a subject no stream holds, so the server answers "no responders") stay
    unsent with their attempt and error recorded; the next relay with a working stream sends them, once."""
    import secrets

    from zhenxi_common.bus import EventBus
    uid = user()
    seq = _last_seq(call, state)
    occs = _stage_now(client, call, state, uid, ["04:11", "04:12"])
    ids = _staged_ids(in_tx, [o["id"] for o in occs])
    broken = EventBus(state.bus.url, subject_prefix=f"zx-nostream-{secrets.token_hex(4)}.")
    broken.nc, broken.js = state.bus.nc, state.bus.js
    failing = DrainingRelay(state.sessionmaker, outbox, broken, batch_size=50)
    assert call(failing.flush_once) == 0

    async def rows(session):
        res = await session.execute(text("SELECT event_id, attempts, last_error, published_at FROM reminders.outbox "
                                         "WHERE event_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})
        return {str(r[0]): tuple(r[1:]) for r in res}
    after_failure = in_tx(rows)
    assert set(after_failure) == set(ids)
    assert all(a >= 1 and err and sent is None for a, err, sent in after_failure.values())
    assert not [m for m, _, _ in _stream_since(call, state, seq) if m in ids]

    assert call(_relay(state, batch_size=50).flush_once) >= 2
    assert all(sent is not None and err is None for _, err, sent in in_tx(rows).values())
    assert sorted(m for m, _, _ in _stream_since(call, state, seq) if m in ids) == sorted(ids)
