"""Outbox retention (scheduler.prune_outbox, run by the scheduler's housekeeping): sent rows go after
``outbox_retention_h`` hours (on the real clock: the method takes no clock, so a pass that tests drive on a chosen
clock days ahead takes nothing sent a moment ago); unsent rows stay whatever their age; the passes sweep the heap a
window of pages at a time and start again at the first page after the last."""
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.scheduler import Scheduler


def _row(in_tx, subject: str, written: datetime, sent: datetime | None) -> str:
    eid = str(uuid.uuid4())

    async def go(session):
        await session.execute(text(
            "INSERT INTO reminders.outbox (event_id, subject, payload, created_at, published_at) "
            "VALUES (CAST(:e AS uuid), :s, '{}'::jsonb, :c, :p)"), {"e": eid, "s": subject, "c": written, "p": sent})
    in_tx(go)
    return eid


def _left(in_tx, subject: str) -> set[str]:
    async def go(session):
        rows = await session.execute(text("SELECT event_id::text FROM reminders.outbox WHERE subject = :s"),
                                     {"s": subject})
        return {r[0] for r in rows}
    return in_tx(go)


def test_sent_rows_older_than_the_retention_are_deleted_and_nothing_else(state, call, in_tx, paused_relay):
    subject = f"retention{secrets.token_hex(3)}.v1"
    now = datetime.now(UTC)
    old_sent = _row(in_tx, subject, now - timedelta(hours=30), now - timedelta(hours=30))
    old_unsent = _row(in_tx, subject, now - timedelta(hours=30), None)     # e.g. a broker outage: kept to retry
    sent_lately = _row(in_tx, subject, now - timedelta(hours=2), now - timedelta(hours=2))
    sched = Scheduler(state.sessionmaker, state.reminders)

    async def pages(session):
        return (await session.execute(text(
            "SELECT pg_relation_size('reminders.outbox') / current_setting('block_size')::int"))).scalar()

    def sweep(retention_h=None) -> int:
        """One pass per page, from wherever the last pass stopped, over the whole heap and back to the start."""
        size = in_tx(pages)
        return sum(call(sched.prune_outbox, retention_h, 1) for _ in range(size + 1))
    try:
        assert call(sched.prune_outbox, 0) == 0                             # 0 keeps every row
        assert _left(in_tx, subject) == {old_sent, old_unsent, sent_lately}
        assert sweep() >= 1                                                 # the setting: 24 hours
        assert _left(in_tx, subject) == {old_unsent, sent_lately}
        assert sweep(1) >= 1                                                # a one-hour retention takes it too
        assert _left(in_tx, subject) == {old_unsent}
    finally:
        async def drop(session):
            await session.execute(text("DELETE FROM reminders.outbox WHERE subject = :s"), {"s": subject})
        in_tx(drop)
