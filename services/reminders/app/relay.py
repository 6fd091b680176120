"""The outbox relay for a service whose outbox fills in bursts (everyone's 08:00 dose): the platform relay sends
one publish at a time; this one publishes a batch concurrently (JetStream acks each one, ``Nats-Msg-Id`` still
dedupes). Rows staged ahead of time (``not_before``, see scheduler.py) wait for it: the scheduler calls ``wake_at``
so a pass runs at that instant, and the poll covers rows staged by a replica that died before their time."""
from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Text, or_, select, update

from zhenxi_common.outbox import OutboxRelay

ACK_TIMEOUT_S = 10.0


class RelayStats:
    """Where the relay's wall time goes, per stage (``/metrics``: ``reminders_relay_stage_seconds_total{stage}``),
    with the batches and messages it published: the bench reads them to profile a peak."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.stage = Counter("reminders_relay_stage_seconds", "Relay wall time by stage", ["stage"], registry=registry)
        self.batches = Counter("reminders_relay_batches", "Relay batches published", registry=registry)
        self.messages = Counter("reminders_relay_messages", "Outbox messages acknowledged by JetStream",
                                registry=registry)

    @contextmanager
    def timed(self, stage: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.stage.labels(stage).inc(time.perf_counter() - t)


class DrainingRelay(OutboxRelay):
    def __init__(self, *args, stats: RelayStats | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._timers: dict[datetime, asyncio.TimerHandle] = {}
        self.stats = stats or RelayStats()

    def wake_at(self, when: datetime) -> None:
        """Run a pass at ``when`` (one timer per distinct instant; everyone's 08:00:00 is one timer)."""
        if when in self._timers:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(when, None)
            self.wake()
        self._timers[when] = loop.call_later(max(0.0, (when - datetime.now(UTC)).total_seconds() + 0.002), fire)

    async def flush_once(self) -> int:
        t = self.table
        st = self.stats
        c0 = time.perf_counter()
        async with self.sessionmaker() as session, session.begin():
            with st.timed("claim"):
                rows = (await session.execute(
                    select(t.c.event_id, t.c.subject, t.c.payload.cast(Text).label("payload"))
                    .where(t.c.published_at.is_(None),
                           or_(t.c.not_before.is_(None), t.c.not_before <= datetime.now(UTC)))
                    .order_by(t.c.created_at).limit(self.batch_size).with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            results = await self._publish(rows)
            ok = [r.event_id for r, res in zip(rows, results) if not isinstance(res, BaseException)]
            failed = [(r.event_id, res) for r, res in zip(rows, results) if isinstance(res, BaseException)]
            with st.timed("mark"):
                if ok:
                    await session.execute(update(t).where(t.c.event_id.in_(ok)).values(
                        published_at=datetime.now(UTC), attempts=t.c.attempts + 1, last_error=None))
                for event_id, exc in failed:
                    await session.execute(update(t).where(t.c.event_id == event_id).values(
                        attempts=t.c.attempts + 1, last_error=(str(exc) or type(exc).__name__)[:500]))
            c1 = time.perf_counter()
        st.stage.labels("commit").inc(time.perf_counter() - c1)
        st.stage.labels("pass").inc(time.perf_counter() - c0)
        st.batches.inc()
        st.messages.inc(len(ok))
        if failed:
            self._failures += 1
        return len(ok) if not failed else 0

    async def _publish(self, rows) -> list:
        """Pipelined JetStream publishes: every message goes out before the first ack is awaited (one shared reply
        subscription, no request/timer per message); ``Nats-Msg-Id`` = event id, so a re-send is dropped by the
        stream. A message without its ack within the timeout counts as failed and stays unsent (retried)."""
        js = self.bus.js
        assert js is not None, "bus not connected"
        futures = []
        t0 = time.perf_counter()
        try:
            for r in rows:
                futures.append(await js.publish_async(self.bus.wire_subject(r.subject), r.payload.encode(),
                                                      headers={"Nats-Msg-Id": str(r.event_id)}))
        except Exception as exc:  # noqa: BLE001 - the rest of the batch is reported failed, not lost
            futures.extend([exc] * (len(rows) - len(futures)))
        t1 = time.perf_counter()
        self.stats.stage.labels("publish").inc(t1 - t0)
        pending = [f for f in futures if isinstance(f, asyncio.Future)]
        if pending:
            await asyncio.wait(pending, timeout=ACK_TIMEOUT_S)
        self.stats.stage.labels("acks").inc(time.perf_counter() - t1)
        out = []
        for f in futures:
            if not isinstance(f, asyncio.Future):
                out.append(f)
            elif not f.done():
                f.cancel()
                out.append(TimeoutError("no JetStream ack"))
            else:
                out.append(f.exception() or f.result())
        return out
