"""The relay's publishing (relay.py ``BatchAcks``): each message of a batch gets its own outcome from JetStream's own
reply, read per batch; against the real NATS JetStream, on a stream of the test's own whose limit refuses large
messages, so one batch can hold stored, duplicate, refused and unanswered messages side by side."""
import json
import secrets
import uuid

import asyncpg
import pytest
from nats.errors import MaxPayloadError
from nats.js.api import StreamConfig
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.models import outbox
from app.relay import BatchAcks, DrainingRelay
from zhenxi_common.bus import EventBus


@pytest.fixture
def small_stream(state, call):
    """A stream of its own (subjects ``<prefix>>``) that refuses messages over 300 bytes; deleted after."""
    prefix = f"zxacks{secrets.token_hex(4)}."
    name = f"ZX_ACKS_{secrets.token_hex(4).upper()}"

    async def make():
        await state.bus.js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}>"], max_msg_size=300,
                                                   duplicate_window=3600.0))
    call(make)
    try:
        yield prefix, name
    finally:
        async def drop():
            await state.bus.js.delete_stream(name)
        call(drop)


def _stored(call, state, stream: str) -> list[str]:
    async def go():
        info = await state.bus.js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await state.bus.js.get_msg(stream, seq)
            out.append(msg.headers["Nats-Msg-Id"])
        return out
    return call(go)


@pytest.mark.parametrize("raw", [True, False], ids=["wire", "nats-py publish"])
def test_each_message_of_a_batch_gets_its_own_outcome(state, call, small_stream, raw):
    """Both send paths: the wire fast path (frames written as one command, replies read from the parser) and
    nats-py's public publish with a callback subscription (the fallback)."""
    prefix, stream = small_stream
    small, big = b'{"n":1}', json.dumps({"pad": "x" * 400}).encode()
    ids = [str(uuid.uuid4()) for _ in range(4)]
    acks = BatchAcks(state.bus.nc, raw=raw)
    assert acks.raw is raw          # this nats-py has what the fast path needs

    async def go():
        first = await acks.publish([(f"{prefix}a", small, ids[0]),
                                    (f"{prefix}a", big, ids[1]),                    # over the stream's limit
                                    (f"zxnostream{secrets.token_hex(4)}.a", small, ids[2]),   # no stream holds it
                                    (f"{prefix}b", small, ids[3])], timeout=5)
        again = await acks.publish([(f"{prefix}a", small, ids[0])], timeout=5)      # a re-send: JetStream's duplicate
        empty = await acks.publish([], timeout=5)
        await acks.close()
        return first, again, empty
    first, again, empty = call(go)
    assert first[0] is None and first[3] is None
    assert isinstance(first[1], Exception) and "refused" in str(first[1])
    assert isinstance(first[2], Exception) and "503" in str(first[2])
    assert again == [None] and empty == []
    assert sorted(_stored(call, state, stream)) == sorted([ids[0], ids[3]])     # the duplicate was not stored


def test_a_message_over_the_servers_limit_fails_alone(state, call, small_stream):
    """A message bigger than the server's max_payload fails by itself; the messages after it in the batch are still
    sent and stored (nats-py's publish raised for it and the rest of the batch counted as failed)."""
    prefix, stream = small_stream
    ids = [str(uuid.uuid4()) for _ in range(3)]
    acks = BatchAcks(state.bus.nc)
    huge = b"x" * (state.bus.nc.max_payload + 1)

    async def go():
        try:
            return await acks.publish([(f"{prefix}a", b"{}", ids[0]), (f"{prefix}a", huge, ids[1]),
                                       (f"{prefix}a", b"{}", ids[2])], timeout=5)
        finally:
            await acks.close()
    outcome = call(go)
    assert outcome[0] is None and outcome[2] is None
    assert isinstance(outcome[1], MaxPayloadError)
    assert sorted(_stored(call, state, stream)) == sorted([ids[0], ids[2]])


def test_the_wire_path_leaves_the_connections_other_subscriptions_alone(state, call, small_stream):
    """Replies to the relay's inbox are read from the parser; every other message on the same connection still
    reaches its own subscription, while a batch is in flight and after the relay's acks are closed (and a reply
    that comes after the close is not read by them)."""
    import asyncio
    prefix, stream = small_stream
    other = f"zxother{secrets.token_hex(4)}.x"

    async def go():
        nc = state.bus.nc
        got = []

        async def listen(msg):
            got.append(msg.data)
        sub = await nc.subscribe(other, cb=listen)
        acks = BatchAcks(nc)
        try:
            await nc.publish(other, b"before")
            outcome = await acks.publish([(f"{prefix}a", b"{}", str(uuid.uuid4())) for _ in range(50)], timeout=5)
            await nc.publish(other, b"during")
            routed = set(nc._zx_reply_routes)
            await acks.close()
            await nc.publish(other, b"after")
            await nc.flush()
            for _ in range(50):
                if len(got) == 3:
                    break
                await asyncio.sleep(0.05)
            return outcome, routed, set(nc._zx_reply_routes), got
        finally:
            await acks.close()
            await sub.unsubscribe()
    outcome, routed, after, got = call(go)
    assert outcome == [None] * 50
    assert got == [b"before", b"during", b"after"]
    assert len(routed - after) == 1           # the relay's reply subscription was routed, and is no longer


def test_a_message_nobody_acks_fails_at_the_timeout(state, call):
    """A subject with a listener that never answers (not JetStream): no ack, no "no responders" status either."""
    subject = f"zxsilent{secrets.token_hex(4)}.x"

    async def go():
        heard = []

        async def listen(msg):
            heard.append(msg.reply)
        sub = await state.bus.nc.subscribe(subject, cb=listen)
        acks = BatchAcks(state.bus.nc)
        try:
            return await acks.publish([(subject, b"{}", str(uuid.uuid4()))] * 2, timeout=0.5), heard
        finally:
            await acks.close()
            await sub.unsubscribe()
    outcome, heard = call(go)
    assert len(heard) == 2 and len(set(heard)) == 2                # each message has its own reply subject
    assert [type(e) for e in outcome] == [TimeoutError, TimeoutError]


def test_rows_jetstream_refuses_stay_unsent_beside_the_ones_it_stored(state, call, in_tx, small_stream,
                                                                      paused_relay):
    """One batch, mixed outcomes: the claim marked every row sent; the refused one goes back to unsent with its error
    (its attempt counted), the stored ones stay sent, and nothing else the outbox holds is touched."""
    prefix, stream = small_stream
    subject = f"relaytest{secrets.token_hex(3)}.v1"
    rows = [(uuid.uuid4(), {"n": i}) for i in range(3)] + [(uuid.uuid4(), {"pad": "x" * 400})]

    async def stage(session):
        await session.execute(text(
            "INSERT INTO reminders.outbox (event_id, subject, payload, not_before) "
            "SELECT e, :s, p::jsonb, now() - interval '1 second' FROM unnest(CAST(:ids AS uuid[]), CAST(:ps AS text[])) "
            "AS v(e, p)"), {"s": subject, "ids": [str(e) for e, _ in rows], "ps": [json.dumps(p) for _, p in rows]})
    in_tx(stage)
    bus = EventBus(state.bus.url, subject_prefix=prefix)
    bus.nc, bus.js = state.bus.nc, state.bus.js
    relay = DrainingRelay(state.sessionmaker, outbox, bus, batch_size=500)
    try:
        call(relay.flush_once)

        async def read(session):
            res = await session.execute(text(
                "SELECT event_id, published_at, attempts, last_error FROM reminders.outbox "
                "WHERE event_id = ANY(CAST(:ids AS uuid[]))"), {"ids": [str(e) for e, _ in rows]})
            return {str(r[0]): r[1:] for r in res}
        got = in_tx(read)
        good, bad = [str(e) for e, _ in rows[:3]], str(rows[3][0])
        assert all(got[e][0] is not None and got[e][1] == 1 and got[e][2] is None for e in good)
        assert got[bad][0] is None and got[bad][1] == 1 and "refused" in got[bad][2]
        assert sorted(_stored(call, state, stream)) == sorted(good)
    finally:
        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)
        call(relay.stop)


def test_a_relay_wakes_at_rows_another_replica_staged(state, call, in_tx, small_stream, paused_relay):
    """A row staged by another replica (whose scheduler told only its own relay) goes out at its release time from
    a relay that was never told: it looks up the next release time itself. Its poll here is five minutes, so only
    that lookup can send the row within the test's wait."""
    import time
    from datetime import UTC, datetime, timedelta
    prefix, stream = small_stream
    subject = f"relaytest{secrets.token_hex(3)}.v1"
    eid = str(uuid.uuid4())
    due = datetime.now(UTC) + timedelta(seconds=2)
    bus = EventBus(state.bus.url, subject_prefix=prefix)
    bus.nc, bus.js = state.bus.nc, state.bus.js
    relay = DrainingRelay(state.sessionmaker, outbox, bus, batch_size=100, poll_interval_s=300.0)

    async def stage(session):
        await session.execute(text("INSERT INTO reminders.outbox (event_id, subject, payload, not_before) "
                                   "VALUES (CAST(:e AS uuid), :s, '{}'::jsonb, :nb)"), {"e": eid, "s": subject, "nb": due})

    async def sent(session):
        return (await session.execute(text("SELECT published_at FROM reminders.outbox WHERE event_id = CAST(:e AS uuid)"),
                                      {"e": eid})).scalar()
    try:
        in_tx(stage)

        async def start():
            relay.start()
        call(start)
        deadline = time.monotonic() + 20
        while in_tx(sent) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert in_tx(sent) is not None
        assert _stored(call, state, stream) == [eid]

        async def stored_at():
            return (await state.bus.js.get_msg(stream, (await state.bus.js.stream_info(stream)).state.last_seq)).time
        assert call(stored_at) >= due                                     # and not before its time
    finally:
        call(relay.stop)

        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)


def test_the_relays_connections_claim_through_the_release_index(state, call, in_tx, paused_relay):
    """With the relay's session settings the claim walks ix_outbox_release in release order and stops after its
    batch (no sort or bitmap scan of every released row per claim), with more released rows than a batch waiting,
    and takes the claimed rows by ctid (a TID scan, not a sequential scan of the outbox), even as a generic plan.
    (Whether the planner would pick the bad plan without the settings depends on the outbox's statistics, so this
    checks the claim and the index still fit each other: a claim ordered by anything the index lacks fails it.)"""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from app.relay import RELAY_SESSION_SETTINGS
    subject = f"relaytest{secrets.token_hex(3)}.v1"

    async def stage(session):   # 3,000 released rows (never sent: deleted below)
        await session.execute(text(
            "INSERT INTO reminders.outbox (event_id, subject, payload, not_before) "
            "SELECT gen_random_uuid(), :s, '{}'::jsonb, :nb FROM generate_series(1, 3000)"),
            {"s": subject, "nb": datetime.now(UTC) - timedelta(minutes=1)})
    in_tx(stage)

    async def plan():
        engine = create_async_engine(state.settings.database_url, pool_size=1,
                                     connect_args={"server_settings": RELAY_SESSION_SETTINGS})
        relay = DrainingRelay(async_sessionmaker(engine), outbox, state.bus, batch_size=1000)
        shown = []
        try:
            async with relay.sessionmaker() as session:
                for mode in ("", "force_generic_plan"):   # as set, and even a generic plan cached earlier
                    if mode:
                        await session.execute(text(f"SET plan_cache_mode = {mode}"))
                    now = datetime.now(UTC)
                    rows = await session.execute(text("EXPLAIN " + relay._claim_stmt.text),
                                                 {"now": now, "upto": now, "n": 1000})
                    shown.append("\n".join(r[0] for r in rows))
            return shown
        finally:
            await engine.dispose()
    try:
        for shown in call(plan):
            assert "Index Scan using ix_outbox_release" in shown and "Tid Scan" in shown, shown
            assert "Sort" not in shown and "Bitmap" not in shown and "Seq Scan" not in shown, shown
    finally:
        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)


def test_the_claim_keeps_its_tid_scan_when_planned_against_an_empty_outbox(state, call):
    """The plan a relay caches at start-up, while the outbox is empty, must stay an index + TID plan when the outbox
    later holds a day of rows: planned here on an empty copy of the outbox (same columns and indexes), as a generic
    plan, on a connection with the relay's settings. Without them this plan looks the rows up with a sequential
    scan (the bench's peak spent 190-360 ms per batch of 1,000 in it)."""
    from datetime import UTC, datetime

    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from app.relay import RELAY_SESSION_SETTINGS
    scratch = f"zxplan_{secrets.token_hex(4)}"

    async def plans():
        engine = create_async_engine(state.settings.database_url, pool_size=1,
                                     connect_args={"server_settings": RELAY_SESSION_SETTINGS})
        relay = DrainingRelay(async_sessionmaker(engine), outbox, state.bus, batch_size=1000)
        claim = relay._claim_stmt.text.replace("reminders.outbox", f"{scratch}.outbox")
        try:
            async with relay.sessionmaker() as session, session.begin():
                await session.execute(text(f"CREATE SCHEMA {scratch}"))
                await session.execute(text(f"CREATE TABLE {scratch}.outbox (LIKE reminders.outbox INCLUDING ALL)"))
                await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
                now = datetime.now(UTC)
                rows = await session.execute(text("EXPLAIN " + claim), {"now": now, "upto": now, "n": 1000})
                shown = "\n".join(r[0] for r in rows)
                await session.rollback()      # the scratch schema goes with the transaction
            return shown
        finally:
            await engine.dispose()
    shown = call(plans)
    assert "Tid Scan" in shown and "Seq Scan" not in shown and "Sort" not in shown, shown


def test_a_sent_mark_writes_one_index_entry(in_tx):
    """The outbox's indexes: the primary key (a mark writes a new row version, so one new entry) and the release
    index of unsent rows (a sent row leaves it). The platform's index on published_at, which every mark and every
    staged row also wrote to, is dropped (migration 0005): nothing here reads through it (the retention sweeps the
    heap by page ranges)."""
    async def indexes(session):
        return set((await session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'reminders' AND tablename = 'outbox'"))).scalars())
    assert in_tx(indexes) == {"outbox_pkey", "ix_outbox_release"}


def _stage_at(in_tx, subject: str, due) -> str:
    eid = str(uuid.uuid4())

    async def stage(session):
        await session.execute(text("INSERT INTO reminders.outbox (event_id, subject, payload, not_before) "
                                   "VALUES (CAST(:e AS uuid), :s, '{}'::jsonb, :nb)"),
                              {"e": eid, "s": subject, "nb": due})
    in_tx(stage)
    return eid


def _seen_by_others(in_tx, eid: str):
    """What another replica sees of the row: whether it can lock it, and its published_at."""
    async def look(session):
        free = (await session.execute(text("SELECT count(*) FROM (SELECT 1 FROM reminders.outbox WHERE event_id = "
                                           "CAST(:e AS uuid) FOR UPDATE SKIP LOCKED) AS t"), {"e": eid})).scalar()
        sent = (await session.execute(text(
            "SELECT published_at FROM reminders.outbox WHERE event_id = CAST(:e AS uuid)"), {"e": eid})).scalar()
        return free == 1, sent
    return in_tx(look)


def _claimed(relay) -> bool:
    """Whether the relay's claim statement has returned rows (its own stage counter), without touching the row."""
    return any(smp.labels.get("stage") == "claim" and smp.name.endswith("_total") and smp.value > 0
               for metric in relay.stats.stage.collect() for smp in metric.samples)


def _wait_claimed(relay) -> None:
    import time
    deadline = time.monotonic() + 10
    while not _claimed(relay) and time.monotonic() < deadline:
        time.sleep(0.02)


def _stored_times(call, state, stream: str) -> list:
    async def go():
        info = await state.bus.js.stream_info(stream)
        if not info.state.messages:
            return []
        return [(await state.bus.js.get_msg(stream, seq)).time
                for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    return call(go)


def _flush_until_claimed(call, relay):
    """Start one relay pass in the background and return its task once its claim has returned rows."""
    import asyncio

    async def begin():
        return asyncio.ensure_future(relay.flush_once())
    task = call(begin)
    _wait_claimed(relay)
    return task


def _row_due_in(state, in_tx, small_stream, seconds: float):
    """One outbox row on a fresh subject due `seconds` from now, and a bus on the test stream's prefix."""
    from datetime import UTC, datetime, timedelta
    prefix, stream = small_stream
    subject = f"relaytest{secrets.token_hex(3)}.v1"
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    eid = _stage_at(in_tx, subject, due)
    bus = EventBus(state.bus.url, subject_prefix=prefix)
    bus.nc, bus.js = state.bus.nc, state.bus.js
    return stream, subject, due, eid, bus


def test_a_relay_claims_ahead_and_sends_at_the_due_time(state, call, in_tx, small_stream, paused_relay):
    """With prefetch, a pass before the due time claims and marks the row (locked, uncommitted: other replicas can
    neither take it nor see it sent) and holds it; it goes out at its due time, not before, and its mark records that
    time."""
    from datetime import UTC, datetime
    stream, subject, due, eid, bus = _row_due_in(state, in_tx, small_stream, 2)
    relay = DrainingRelay(state.sessionmaker, outbox, bus, batch_size=100, prefetch_s=10.0)
    try:
        task = _flush_until_claimed(call, relay)
        held = _seen_by_others(in_tx, eid)
        before_due = datetime.now(UTC) < due
        stored_early = _stored_times(call, state, stream)

        async def finish():
            return await task
        sent = call(finish)
        assert before_due and held == (False, None)     # claimed ahead: locked by the relay, not yet seen as sent
        assert stored_early == []                       # and nothing sent before its time
        assert sent == 1
        [stored_at] = _stored_times(call, state, stream)
        assert stored_at >= due
        assert _seen_by_others(in_tx, eid) == (True, due)    # sent and let go; marked with its due time
    finally:
        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)


def test_rows_claimed_ahead_by_a_relay_that_dies_are_sent_by_another(state, call, in_tx, small_stream,
                                                                    paused_relay):
    """A relay that claimed a row ahead and dies before its time (its transaction rolls back) leaves it unsent and
    free; a relay without prefetch, woken at the due time by its own timer, sends it, once, not before its time."""
    import asyncio
    import time
    stream, subject, due, eid, bus = _row_due_in(state, in_tx, small_stream, 3)
    dying = DrainingRelay(state.sessionmaker, outbox, bus, batch_size=100, prefetch_s=10.0)
    survivor = DrainingRelay(state.sessionmaker, outbox, bus, batch_size=100, poll_interval_s=300.0)
    try:
        task = _flush_until_claimed(call, dying)
        assert _seen_by_others(in_tx, eid) == (False, None)     # held by the dying relay

        async def kill_and_hand_over():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            survivor.start()
            survivor.wake_at(due)
        call(kill_and_hand_over)
        assert _seen_by_others(in_tx, eid) == (True, None)      # released, unsent
        deadline = time.monotonic() + 20
        while _seen_by_others(in_tx, eid)[1] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        [stored_at] = _stored_times(call, state, stream)
        assert stored_at >= due
        free, sent_at = _seen_by_others(in_tx, eid)
        assert free and sent_at >= due
    finally:
        call(survivor.stop)

        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)


def test_rows_let_go_before_their_time_are_claimed_ahead_while_other_lanes_hold(state, call, in_tx, small_stream,
                                                                                paused_relay):
    """A relay whose lane holds a row claimed ahead still looks again every poll: a row another replica held ahead and
    let go (its process died) before its time is claimed ahead too, not only once the held lane has sent, so both go
    out at their time; once each."""
    import asyncio
    import time
    from datetime import UTC, datetime, timedelta
    prefix, stream = small_stream
    subject = f"relaytest{secrets.token_hex(3)}.v1"
    due = datetime.now(UTC) + timedelta(seconds=4)
    mine, theirs = _stage_at(in_tx, subject, due), _stage_at(in_tx, subject, due)
    dsn = make_url(state.settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    bus = EventBus(state.bus.url, subject_prefix=prefix)
    bus.nc, bus.js = state.bus.nc, state.bus.js
    relay = DrainingRelay(state.sessionmaker, outbox, bus, batch_size=100, prefetch_s=10.0, poll_interval_s=0.1,
                          depth=2)

    async def hold():
        conn = await asyncpg.connect(dsn)   # the other replica, holding its row ahead
        tx = conn.transaction()
        await tx.start()
        await conn.fetch("SELECT 1 FROM reminders.outbox WHERE event_id = $1::uuid FOR UPDATE", theirs)
        return conn
    conn = call(hold)
    try:
        async def begin():
            return asyncio.ensure_future(relay.flush_once())
        task = call(begin)
        _wait_claimed(relay)
        assert _seen_by_others(in_tx, mine) == (False, None)       # held by the relay's first lane

        async def die():
            await conn.close()                                      # the other replica's process dies
        call(die)
        deadline = time.monotonic() + 2
        while _free(in_tx, theirs) and time.monotonic() < deadline:
            time.sleep(0.05)
        taken_ahead = not _free(in_tx, theirs) and datetime.now(UTC) < due

        async def finish():
            return await task
        assert call(finish) == 2
        assert taken_ahead
        assert len(_stored_times(call, state, stream)) == 2 and min(_stored_times(call, state, stream)) >= due
        assert _seen_by_others(in_tx, theirs) == (True, due)       # sent at its time by this relay, marked so
    finally:
        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)


def _free(in_tx, eid: str) -> bool:
    """Whether the row is locked by nobody, from pg_locks' view of row locks (no lock taken to look: a look that
    locked the row would itself keep a relay's SKIP LOCKED claim from taking it)."""
    async def look(session):
        return (await session.execute(text(
            "SELECT NOT EXISTS (SELECT 1 FROM reminders.outbox o, pg_locks l WHERE o.event_id = CAST(:e AS uuid) "
            "AND l.locktype = 'transactionid' AND l.granted AND l.mode = 'ExclusiveLock' "
            "AND l.transactionid = o.xmax)"), {"e": eid})).scalar()
    return in_tx(look)
