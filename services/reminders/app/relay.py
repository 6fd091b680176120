"""The outbox relay for a service whose outbox fills in bursts (everyone's 08:00 dose).

Release path. Everything that can be done before a reminder's due time is done by the scheduler when it claims it
(up to ``fire_lookahead_s`` ahead): the occurrence is moved on, the payload rendered, the msg-id fixed and the outbox
row written with ``not_before`` = due time, all in one transaction. At the due time this relay only has to:

1. claim a batch of rows whose time has come (``FOR UPDATE SKIP LOCKED``; a partial index on the release time of
   unsent rows means a claim never reads rows staged for later);
2. send every message of the batch without waiting (``publish_async``: one shared reply subscription, ``Nats-Msg-Id``
   = event id);
3. gather the batch's acks, mark the acked rows sent in one statement (an array of ids) and commit.

Lanes do this side by side, each on its own connection for the whole drain (no pool checkout per batch), so one
lane's claim and send overlap the others' ack waits and commits; a pass starts one lane and every full batch claimed
starts another, up to ``depth``, so an idle poll is one query and a peak gets every lane. The relay has its own small pool whose
sessions run with ``synchronous_commit = off``: its only writes are "sent" marks, and a mark lost in a database
crash means a re-send that JetStream drops (below), so its commits need not wait for the WAL flush. Every other
write of the service (API, scheduler) keeps synchronous commits.

Exactly once: a batch's rows stay locked until its transaction commits, so no other lane or replica takes them
meanwhile. A replica killed after sending and before committing loses its connection, Postgres rolls the transaction
back and releases the rows, and the next pass anywhere sends them again with the same msg-id: JetStream's dedupe
window (``duplicate_window``, an hour) drops the copy. A message not acked within ``ACK_TIMEOUT_S`` stays unsent and
is retried. Nothing is sent before its ``not_before``.

The scheduler calls ``wake_at`` so a pass runs at each staged due time; the poll covers rows staged by a replica that
died before their time."""
from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Text, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID as PG_UUID

from zhenxi_common.outbox import OutboxRelay

ACK_TIMEOUT_S = 10.0


class RelayStats:
    """Where the relay's wall time goes, per stage (``/metrics``: ``reminders_relay_stage_seconds_total{stage}``),
    with the batches and messages it published: the bench reads them to profile a peak. Lanes overlap, so the
    stages' sum exceeds the wall time of a drain."""

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
    def __init__(self, *args, stats: RelayStats | None = None, depth: int = 4, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._timers: dict[datetime, asyncio.TimerHandle] = {}
        self.stats = stats or RelayStats()
        self.depth = max(1, depth)
        self._js = None
        t = self.table
        # When a row may go out: its not_before, or at once (created_at) for every other event. Matches the partial
        # index ix_outbox_release (migration 0004), so a claim reads only released, unsent rows.
        self._release_at = func.coalesce(t.c.not_before, t.c.created_at)
        self._mark_sent_stmt = update(t).where(t.c.event_id == func.any(bindparam(
            "ids", type_=ARRAY(PG_UUID(as_uuid=True))))).values(
            published_at=bindparam("now"), attempts=t.c.attempts + 1, last_error=None)

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
        """Drain every row whose time has come. One lane starts; each full batch a lane claims starts another, up to
        ``depth`` (an idle poll costs one query, a peak gets every lane). Returns the messages acknowledged, or 0 when
        any failed (the loop then backs off before retrying them); a lane's error is raised after the others end."""
        lanes: list[asyncio.Task] = []

        def another() -> None:
            if len(lanes) < self.depth:
                lanes.append(asyncio.create_task(self._lane(another), name="outbox-relay-lane"))
        another()
        results: list = []
        try:
            while len(results) < len(lanes):      # lanes may be added while the first ones run
                try:
                    results.append(await lanes[len(results)])
                except Exception as exc:  # noqa: BLE001 - raised below, once every lane has ended
                    results.append(exc)
        finally:
            for task in lanes:                    # cancelled (the relay is stopping): their transactions roll back
                task.cancel()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        if any(bad for _, bad in results):
            self._failures += 1
            return 0
        return sum(ok for ok, _ in results)

    async def _lane(self, another) -> tuple[int, int]:
        """One lane: on one connection (checked out once per drain), batch after batch in its own transaction —
        claim, send, gather the acks, mark the acked rows sent in one statement, commit — until a claim comes back
        short. Lanes run side by side, so one lane's claim and send overlap the others' ack waits and commits.
        Returns (acked, failed); stops after a batch with failures."""
        st, t = self.stats, self.table
        acked = 0
        async with self.sessionmaker() as session:
            while True:
                async with session.begin():
                    started = time.perf_counter()
                    rows = (await session.execute(
                        select(t.c.event_id, t.c.subject, t.c.payload.cast(Text).label("payload"))
                        .where(t.c.published_at.is_(None), self._release_at <= datetime.now(UTC))
                        .order_by(self._release_at).limit(self.batch_size)
                        .with_for_update(skip_locked=True))).all()
                    # a claim that finds nothing is an idle poll (or the end of a drain): counted apart
                    st.stage.labels("claim" if rows else "claim_empty").inc(time.perf_counter() - started)
                    if not rows:
                        return acked, 0
                    if len(rows) == self.batch_size:
                        another()
                    with st.timed("send"):
                        futures = await self._send(rows)
                    with st.timed("acks"):
                        results = await self._acks(futures)
                    ok = [r.event_id for r, res in zip(rows, results) if not isinstance(res, BaseException)]
                    failed = [(r.event_id, res) for r, res in zip(rows, results) if isinstance(res, BaseException)]
                    with st.timed("mark"):
                        await self._mark_sent(session, ok)
                        for event_id, exc in failed:
                            await session.execute(update(t).where(t.c.event_id == event_id).values(
                                attempts=t.c.attempts + 1, last_error=(str(exc) or type(exc).__name__)[:500]))
                    commit_started = time.perf_counter()
                st.stage.labels("commit").inc(time.perf_counter() - commit_started)
                st.batches.inc()
                st.messages.inc(len(ok))
                acked += len(ok)
                if failed:
                    return acked, len(failed)
                if len(rows) < self.batch_size:
                    return acked, 0

    async def _mark_sent(self, session, event_ids: list) -> None:
        """Every acked row of a batch marked sent in one statement (an array parameter, not one per row)."""
        if event_ids:
            await session.execute(self._mark_sent_stmt, {"ids": event_ids, "now": datetime.now(UTC)})

    async def _send(self, rows) -> list:
        """Every message of the batch goes out before the first ack is awaited (one shared reply subscription, no
        request/timer per message); ``Nats-Msg-Id`` = event id, so a re-send is dropped by the stream. Returns one
        future per row (or the exception that stopped the sending)."""
        if self._js is None:
            assert self.bus.nc is not None, "bus not connected"
            # Its own JetStream context: room for every lane's whole batch in flight (the default is 4,000).
            self._js = self.bus.nc.jetstream(timeout=5, publish_async_max_pending=max(
                4000, self.batch_size * self.depth))
        js = self._js
        futures: list = []
        try:
            for r in rows:
                futures.append(await js.publish_async(self.bus.wire_subject(r.subject), r.payload.encode(),
                                                      headers={"Nats-Msg-Id": str(r.event_id)}))
        except Exception as exc:  # noqa: BLE001 - the rest of the batch is reported failed, not lost
            futures.extend([exc] * (len(rows) - len(futures)))
        return futures

    async def _acks(self, futures: list) -> list:
        """Each message's ack (or error); a message without its ack within the timeout counts as failed and stays
        unsent (retried, deduped by msg-id if it did land)."""
        pending = [f for f in futures if isinstance(f, asyncio.Future)]
        if pending:
            await asyncio.wait(pending, timeout=ACK_TIMEOUT_S)
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
