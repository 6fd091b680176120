"""The outbox relay for a service whose outbox fills in bursts (everyone's 08:00 dose): the platform relay sends
100 rows per wake-up, one publish at a time; this one publishes a batch concurrently (JetStream acks each one,
``Nats-Msg-Id`` still dedupes) and goes straight on while batches come back full."""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select, update

from zhenxi_common.outbox import OutboxRelay

log = logging.getLogger("zhenxi.reminders.relay")


class DrainingRelay(OutboxRelay):
    async def _run(self) -> None:
        while True:
            sent = 0
            try:
                sent = await self.flush_once()
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # the relay must outlive a broker or DB outage; it retries below
                self._failures += 1
                log.exception("outbox relay pass failed")
            if sent >= self.batch_size:
                continue
            delay = min(30.0, self.poll_interval_s * (2 ** min(self._failures, 5)))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
            self._wake.clear()

    async def flush_once(self) -> int:
        t = self.table
        async with self.sessionmaker() as session, session.begin():
            rows = (await session.execute(
                select(t.c.event_id, t.c.subject, t.c.payload).where(t.c.published_at.is_(None))
                .order_by(t.c.created_at).limit(self.batch_size).with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            results = await asyncio.gather(*(self.bus.publish_raw(r.subject, r.payload, str(r.event_id))
                                             for r in rows), return_exceptions=True)
            ok = [r.event_id for r, res in zip(rows, results) if not isinstance(res, BaseException)]
            failed = [(r.event_id, res) for r, res in zip(rows, results) if isinstance(res, BaseException)]
            if ok:
                await session.execute(update(t).where(t.c.event_id.in_(ok)).values(
                    published_at=datetime.now(UTC), attempts=t.c.attempts + 1, last_error=None))
            for event_id, exc in failed:
                await session.execute(update(t).where(t.c.event_id == event_id).values(
                    attempts=t.c.attempts + 1, last_error=str(exc)[:500]))
            if failed:
                self._failures += 1
            return len(ok) if not failed else 0
