"""Outbox and inbox against real Postgres and NATS JetStream."""
import asyncio
import json
import uuid

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from zhenxi_common.bus import EventBus
from zhenxi_common.db import make_sessionmaker
from zhenxi_common.events import ReportCompletedV1
from zhenxi_common.outbox import OutboxRelay, add_event, outbox_tables


@pytest.fixture
async def stack(zx_env):
    schema = "t_" + uuid.uuid4().hex[:8]
    metadata = MetaData(schema=schema)
    outbox, inbox = outbox_tables(metadata)
    engine = create_async_engine(zx_env["DATABASE_URL"])
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    bus = EventBus(zx_env["NATS_URL"], f"{zx_env['NATS_SUBJECT_PREFIX']}{uuid.uuid4().hex[:6]}.")
    await bus.connect()
    relay = OutboxRelay(make_sessionmaker(engine, outbox), outbox, bus, poll_interval_s=0.05)
    sm = make_sessionmaker(engine, outbox, relay.wake)
    relay.sessionmaker = sm
    yield sm, outbox, inbox, bus, relay
    await bus.js.delete_stream(bus.stream)
    await bus.close()
    await engine.dispose()


async def _collect(bus: EventBus, subject: str, n: int, timeout: float = 5.0) -> list[dict]:
    sub = await bus.js.subscribe(bus.wire_subject(subject), deliver_policy="all")
    out = []
    try:
        while len(out) < n:
            msg = await sub.next_msg(timeout=timeout)
            out.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return out


async def test_event_published_only_after_commit(stack):
    sm, outbox, _, bus, relay = stack
    committed = ReportCompletedV1(user_id="u1", report_id="r1")
    rolled_back = ReportCompletedV1(user_id="u1", report_id="r2")
    async with sm() as s, s.begin():
        await add_event(s, committed)
    with pytest.raises(RuntimeError):
        async with sm() as s, s.begin():
            await add_event(s, rolled_back)
            raise RuntimeError("business rule failed after the event was staged")
    assert await relay.flush_once() == 1
    got = await _collect(bus, ReportCompletedV1.subject, 1)
    assert [g["report_id"] for g in got] == ["r1"]
    async with sm() as s:
        rows = (await s.execute(select(outbox.c.event_id, outbox.c.published_at))).all()
    assert len(rows) == 1 and rows[0].published_at is not None


async def test_relay_retries_until_the_broker_acks(stack):
    sm, outbox, _, bus, relay = stack
    await bus.js.delete_stream(bus.stream)  # the broker refuses: no stream listens on the subject
    async with sm() as s, s.begin():
        await add_event(s, ReportCompletedV1(user_id="u2", report_id="r9"))
    assert await relay.flush_once() == 0
    async with sm() as s:
        row = (await s.execute(select(outbox.c.attempts, outbox.c.published_at, outbox.c.last_error))).one()
    assert row.published_at is None and row.attempts == 1 and row.last_error
    await bus.ensure_stream()
    assert await relay.flush_once() == 1
    assert (await _collect(bus, ReportCompletedV1.subject, 1))[0]["report_id"] == "r9"


async def test_relay_wakes_after_commit(stack):
    sm, _, _, bus, relay = stack
    relay.start()
    try:
        async with sm() as s, s.begin():
            await add_event(s, ReportCompletedV1(user_id="u3", report_id="r3"))
        got = await _collect(bus, ReportCompletedV1.subject, 1)
        assert got[0]["report_id"] == "r3"
    finally:
        await relay.stop()


async def test_consumer_dedupes_redelivered_events(stack):
    sm, _, inbox, bus, _ = stack
    seen: list[str] = []

    async def handler(session, event):
        seen.append(event.report_id)

    event = ReportCompletedV1(user_id="u4", report_id="r4")
    payload = event.model_dump(mode="json")
    # Two deliveries of the same event (e.g. a publisher retry after a lost ack, with a new message id).
    await bus.publish_raw(event.subject, payload, "msg-a")
    await bus.publish_raw(event.subject, payload, "msg-b")
    await bus.publish_raw(event.subject, ReportCompletedV1(user_id="u4", report_id="r5").model_dump(mode="json"),
                          "msg-c")
    bus.consume(ReportCompletedV1, "tips-test", handler, sm, inbox)
    for _ in range(100):
        if len(seen) >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert sorted(seen) == ["r4", "r5"]


class _IdleRelay(OutboxRelay):
    """The relay's loop alone: a pass that finds nothing (no database needed to drive wake/stop)."""

    def __init__(self) -> None:
        super().__init__(sessionmaker=None, table=None, bus=None, poll_interval_s=30.0)
        self.passes = 0

    async def flush_once(self) -> int:
        self.passes += 1
        return 0


async def test_stop_ends_the_loop_when_a_wake_lands_in_the_same_step():
    """A wake whose waiter has finished but not yet resumed the loop, then stop(): on Python 3.11 asyncio.wait_for
    returned the finished wait and dropped the cancel, so stop() waited forever (seen as a hung reminders suite)."""
    relay = _IdleRelay()
    relay.start()
    while relay.passes == 0:
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)               # the loop now waits for a wake
    relay.wake()
    await asyncio.sleep(0)                  # the event's waiter completes; the loop has not resumed yet
    stopping = asyncio.ensure_future(relay.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)     # (asyncio.wait does not cancel what it waits for)
    try:
        assert stopping in done and relay._task.done()
    finally:
        relay._task.cancel()
        await asyncio.wait({stopping}, timeout=5)


async def test_a_woken_relay_runs_another_pass_and_a_stopped_one_none():
    relay = _IdleRelay()
    relay.start()
    while relay.passes == 0:
        await asyncio.sleep(0)
    relay.wake()
    for _ in range(200):
        if relay.passes >= 2:
            break
        await asyncio.sleep(0.005)
    assert relay.passes == 2
    await relay.stop()
    relay.wake()
    await asyncio.sleep(0.02)
    assert relay.passes == 2
