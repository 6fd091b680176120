"""Transactional outbox and idempotent inbox.

``add_event`` writes the event into this service's ``outbox`` table inside the caller's transaction. After the
commit, ``OutboxRelay`` publishes unsent rows to JetStream (``Nats-Msg-Id`` = event id, so the stream also
dedupes) and marks them sent; a failed publish stays unsent and is retried with back-off. Consumers record
each handled event id in ``inbox`` in the same transaction as their side effects, so a redelivery is a no-op."""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, Text, func, insert, select,
                        update)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .aio import wait_set
from .events import Event

if TYPE_CHECKING:
    from .bus import EventBus

log = logging.getLogger("zhenxi.outbox")


def outbox_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Declare the ``outbox`` and ``inbox`` tables on a service's metadata (its own schema)."""
    outbox = Table(
        "outbox", metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
    )
    inbox = Table(
        "inbox", metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("consumer", String(200), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return outbox, inbox


async def add_event(session: AsyncSession, event: Event) -> None:
    """Stage ``event`` for publication when (and only if) the surrounding transaction commits."""
    table: Table = session.info["outbox_table"]
    await session.execute(insert(table).values(
        event_id=event.event_id, subject=event.subject, payload=event.model_dump(mode="json")))
    session.sync_session.info["outbox_dirty"] = True


async def claim_inbox(session: AsyncSession, inbox: Table, event: Event, consumer: str) -> bool:
    """True the first time ``consumer`` sees ``event``; False on a redelivery or replay."""
    stmt = (pg_insert(inbox).values(event_id=event.event_id, consumer=consumer, subject=event.subject)
            .on_conflict_do_nothing().returning(inbox.c.event_id))
    return (await session.execute(stmt)).first() is not None


class OutboxRelay:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], table: Table, bus: "EventBus",
                 poll_interval_s: float = 1.0, batch_size: int = 100) -> None:
        self.sessionmaker = sessionmaker
        self.table = table
        self.bus = bus
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._failures = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.flush_once()
                self._failures = 0 if sent >= 0 else self._failures
            except asyncio.CancelledError:
                raise
            except Exception:  # the relay must outlive a broker or DB outage; it retries below
                self._failures += 1
                log.exception("outbox relay pass failed")
            else:
                if sent >= self.batch_size:  # a backlog: go straight on while batches come back full
                    continue
            delay = min(30.0, self.poll_interval_s * (2 ** min(self._failures, 5)))
            await wait_set(self._wake, delay)
            self._wake.clear()

    async def flush_once(self) -> int:
        """Publish every unsent row once; returns how many were acknowledged by JetStream."""
        t = self.table
        sent = 0
        async with self.sessionmaker() as session, session.begin():
            rows = (await session.execute(
                select(t.c.event_id, t.c.subject, t.c.payload).where(t.c.published_at.is_(None))
                .order_by(t.c.created_at).limit(self.batch_size).with_for_update(skip_locked=True)
            )).all()
            for row in rows:
                try:
                    await self.bus.publish_raw(row.subject, row.payload, str(row.event_id))
                except Exception as exc:  # leave it unsent; the next pass retries
                    await session.execute(update(t).where(t.c.event_id == row.event_id).values(
                        attempts=t.c.attempts + 1, last_error=str(exc)[:500]))
                    self._failures += 1
                    break
                await session.execute(update(t).where(t.c.event_id == row.event_id).values(
                    published_at=datetime.now(UTC), attempts=t.c.attempts + 1, last_error=None))
                sent += 1
        return sent
