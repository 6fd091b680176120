"""The outbox relay for a service whose outbox fills in bursts (everyone's 08:00 dose).

Release path. Everything that can be done before a reminder's due time is done by the scheduler when it claims it
(up to ``fire_lookahead_s`` ahead): the occurrence is moved on, the payload rendered, the msg-id fixed and the outbox
row written with ``not_before`` = due time, all in one transaction. At the due time this relay only has to:

1. claim a batch of rows whose time has come and mark them sent, in one statement (``UPDATE ... WHERE ctid =
   ANY(ARRAY(SELECT ... FOR UPDATE SKIP LOCKED)) RETURNING``; a partial index on the release time of unsent rows
   means a claim never reads rows staged for later);
2. send every message of the batch without waiting (``BatchAcks``: plain publishes with ``Nats-Msg-Id`` = event id
   and a reply subject per message on one shared reply subscription);
3. gather the batch's acks, put the rows JetStream did not ack back to unsent (one statement, only when some failed)
   and commit. The mark becomes visible only with that commit, after the acks.

Claiming ahead (``prefetch_s``, the service's ``relay_prefetch_s``): step 1 is done before the due time too. A lane
that finds nothing due claims up to ``prefetch_batch`` rows due within ``prefetch_s``, in the same statement (they
are marked sent with their release time, uncommitted, and stay locked), builds their frames and waits; at each
row's release time it sends, then steps 3 as above. At a peak's due second only the publish and the acks are left:
the claims' Postgres work (the largest part of a fire's CPU) is done in the seconds before it. A relay woken for a
release time passes ``prefetch_s`` before it and again at it: the second pass is how a survivor sends, on time, the
rows that a replica killed while holding them ahead let go.

Lanes do this side by side, each on its own connection for the whole drain (no pool checkout per batch), so one
lane's claim and send overlap the others' ack waits and commits; a pass starts one lane and every full batch claimed
starts another, up to ``depth``, so an idle poll is one query and a peak gets every lane. The relay has its own
small pool whose sessions run with ``synchronous_commit = off``: its only writes are "sent" marks, and a mark lost
in a database crash means a re-send that JetStream drops (below), so its commits need not wait for the WAL flush.
Every other write of the service (API, scheduler) keeps synchronous commits.

Exactly once: a batch's rows stay locked until its transaction commits, so no other lane or replica takes them
meanwhile. A replica killed after sending and before committing loses its connection, Postgres rolls the transaction
back and releases the rows, and the next pass anywhere sends them again with the same msg-id: JetStream's dedupe
window (``duplicate_window``, an hour) drops the copy. A message not acked within ``ACK_TIMEOUT_S`` stays unsent and
is retried. Nothing is sent before its ``not_before``, claimed ahead or not.

The scheduler calls ``wake_at`` so a pass runs at each staged due time. Every relay also learns the next release time
of the rows staged by any replica (one index probe after a drain, and at most once a second when idle) and wakes at
it: when the replica that staged a peak dies before it, the survivors' relays start at the due time, not at their
next poll (up to ``relay_poll_s`` later)."""
from __future__ import annotations

import asyncio
import json
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from nats.errors import MaxPayloadError
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import DateTime, Integer, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID as PG_UUID

from zhenxi_common.outbox import OutboxRelay

ACK_TIMEOUT_S = 10.0
# The relay's own connections. synchronous_commit off: see above. The planner settings keep the claim on index plans
# whatever the outbox's statistics say (a peak is staged seconds before it is due, long before autovacuum's next
# ANALYZE, and the service starts with an empty outbox):
# - custom plans, not the generic plan cached while the outbox was still empty: that one looked the claimed rows'
#   ctids up with a sequential scan of the whole outbox (190-360 ms per batch of 1,000 at the bench's 43k peak, seen
#   with auto_explain; the rows sent earlier in the day make it worse);
# - no sequential scans, bitmap scans or sorts: without statistics the planner guessed ~100 released rows and
#   bitmap-scanned and sorted every released row on every claim (37-55 ms per batch at a 43k peak, the drain
#   quadratic) instead of walking ix_outbox_release in order and stopping after a batch.
# These connections run only the relay's three statements (claim, un-mark, next release time), which all have index
# plans.
RELAY_SESSION_SETTINGS = {"synchronous_commit": "off", "plan_cache_mode": "force_custom_plan",
                          "enable_seqscan": "off", "enable_sort": "off", "enable_bitmapscan": "off"}
LOOKUP_EVERY_S = 1.0     # an idle relay looks up the next release time at most this often


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


class BatchAcks:
    """JetStream publishing for a relay's batches, with each message's ack collected per batch.

    nats-py's ``publish_async`` makes a future, a NUID token, a semaphore slot and a parsed ``PubAck`` for every
    message and wakes its caller once per message. Here every message is a plain publish with ``Nats-Msg-Id`` and a
    reply subject ``<inbox>.<batch>.<index>`` on one shared reply subscription; an ack is read in place (JetStream's
    success reply starts ``{"stream":``; anything else is parsed and an ``error`` in it, or an empty "no responders"
    status, fails that message) and the batch's waiter wakes once, when its last ack is in. A message still without
    an ack at the timeout fails; a late ack for it is ignored (the row stays unsent and its re-send is dropped by the
    msg-id dedupe).

    Wire fast path (``raw``, on by default when the client has the hooks, see ``_raw_hooks``). Even a plain
    ``nc.publish`` validates both subjects, builds the header block key by key and queues one command per message,
    and every reply becomes a ``Msg`` that goes through the subscription's queue and task before its callback runs:
    at a peak that was most of the relay's own CPU (cProfile of ``bench/reminders_drain.py``). With the fast path:

    - a batch's ``HPUB`` frames (the NATS client protocol: ``HPUB <subject> <reply> <header bytes> <total bytes>``,
      the ``NATS/1.0`` header block with ``Nats-Msg-Id``, the payload) are built in one pass and handed to the
      client's write buffer as one command, flushed once; subjects come from the service (the bus's wire subjects and
      this inbox), so there is nothing to validate per message;
    - replies to this inbox are read straight from the client's protocol parser (its ``_process_msg`` for the
      reply subscription's sid): subject, payload and the raw header bytes, no ``Msg``, no queue, no task hop.
      Every other message on the connection goes the usual way.

    Both lean on nats-py internals (``Client._send_command``, ``_flush_pending``, ``_flush_queue`` and
    ``_process_msg``, which its parser calls with raw bytes), stable across nats-py 2.x; when any is missing the
    public path (``nc.publish``, callback subscription) is used, and so it is for a batch sent while the client is
    not connected (reconnecting: nats-py's own buffering and errors apply)."""

    def __init__(self, nc, raw: bool = True) -> None:
        self.nc = nc
        self.raw = raw and _raw_hooks(nc)
        self._prefix = ""
        self._start = 0
        self._sub = None
        self._open: dict[int, _Batch] = {}
        self._serial = 0

    async def _ensure(self) -> None:
        if self._sub is None:
            self._prefix = self.nc.new_inbox()
            self._sub = await self.nc.subscribe(self._prefix + ".>", cb=self._on_reply)
            if self.raw:
                self._install(self._sub._id)

    def _install(self, sid: int) -> None:
        self._start = len(self._prefix) + 1
        _reply_routes(self.nc)[sid] = self._on_raw_reply

    async def publish(self, messages: list[tuple[str, bytes, str]], timeout: float,
                      stats: RelayStats | None = None, release: list[datetime] | None = None) -> list:
        """Send ``(subject, payload, msg_id)`` messages, all before waiting, then wait for their acks. Returns per
        message ``None`` (stored, or a duplicate JetStream already held) or the exception that failed it.

        ``release`` (per message, a claim made ahead of time): no message is sent before its time; the messages go
        out in groups, each as soon as its time has come (its frames built before), and the acks are gathered once
        the last group is out."""
        stats = stats or RelayStats()
        await self._ensure()
        self._serial += 1
        serial = self._serial
        batch = _Batch(len(messages))
        self._open[serial] = batch
        reply = f"{self._prefix}.{serial}."
        try:
            with stats.timed("send"):
                groups = [(at, part, self._frames(part, reply, batch) if self.raw else None)
                          for at, part in _release_groups(messages, release)]
            for at, part, frames in groups:
                if at is not None:
                    with stats.timed("hold"):
                        await _sleep_until(at)
                with stats.timed("send"):
                    if frames is not None and self.nc.is_connected:
                        await self._write(frames, part, batch)
                    else:
                        await self._send_each(part, reply, batch)
            with stats.timed("acks"):
                if not batch.done.done():
                    await asyncio.wait([batch.done], timeout=timeout)
        finally:
            self._open.pop(serial, None)
        return batch.outcome()

    async def _send_each(self, part, reply: str, batch: "_Batch") -> None:
        publish = self.nc.publish
        sent = 0
        try:
            for i, (subject, payload, msg_id) in part:
                await publish(subject, payload, reply=reply + str(i), headers={"Nats-Msg-Id": msg_id})
                sent += 1
        except Exception as exc:  # noqa: BLE001 - the rest of the part is reported failed, not lost
            for i, _ in part[sent:]:
                batch.settle(i, exc)

    def _frames(self, part, reply: str, batch: "_Batch") -> list[bytes]:
        """The part's HPUB frames; a message over the server's max_payload fails here, alone."""
        limit = self.nc.max_payload
        rb = reply.encode()
        frames = []
        subjects: dict[str, bytes] = {}
        for i, (subject, payload, msg_id) in part:
            hdr = b"NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n" % msg_id.encode()
            total = len(hdr) + len(payload)
            if total > limit:
                batch.settle(i, MaxPayloadError())
                continue
            sb = subjects.get(subject)
            if sb is None:
                sb = subjects[subject] = subject.encode()
            frames.append(b"HPUB %s %s%d %d %d\r\n%s%s\r\n" % (sb, rb, i, len(hdr), total, hdr, payload))
        return frames

    async def _write(self, frames: list[bytes], part, batch: "_Batch") -> None:
        """The frames into the client's write buffer as one command, flushed once."""
        nc = self.nc
        if not frames:
            return
        try:
            await nc._send_command(b"".join(frames))
            if nc._flush_queue is not None and nc._flush_queue.empty():    # as nc.publish does: one kick
                await nc._flush_pending()
        except Exception as exc:  # noqa: BLE001 - nothing of the part may count as sent
            for i, _ in part:
                batch.settle(i, exc)           # (one that already failed keeps its first outcome)
        nc.stats["out_msgs"] += len(frames)

    def _on_raw_reply(self, subject: bytes, data: bytes, headers: bytes | None) -> None:
        """A reply read from the parser (``<inbox>.<batch>.<index>``; the raw header bytes, None without)."""
        serial, _, index = subject[self._start:].partition(b".")
        try:
            batch = self._open.get(int(serial))
            i = int(index)
        except ValueError:
            return                                  # not a reply to one of our publishes
        if batch is None:
            return
        # an empty reply is a status ("NATS/1.0 503[ description]": no stream holds the subject)
        status = "" if data else (headers or b"").split(b"\r\n", 1)[0].decode(errors="replace")[len("NATS/1.0"):]
        batch.settle(i, _reply_outcome(data, status.strip()))

    async def _on_reply(self, msg) -> None:
        serial, _, index = msg.subject[len(self._prefix) + 1:].partition(".")
        if not (serial.isdigit() and index.isdigit()):
            return                                  # not a reply to one of our publishes
        batch = self._open.get(int(serial))
        if batch is not None:
            batch.settle(int(index), _reply_outcome(msg.data, (msg.headers or {}).get("Status", "")))

    async def close(self) -> None:
        if self._sub is not None:
            _reply_routes(self.nc).pop(self._sub._id, None)
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001 - connection already gone
                pass
            self._sub = None


def _release_groups(messages: list, release: list[datetime] | None):
    """``(time or None, [(index, message), ...])`` in time order: one group (None) when there are no times."""
    if release is None:
        return [(None, list(enumerate(messages)))]
    groups: dict[datetime, list] = {}
    for i, (m, at) in enumerate(zip(messages, release)):
        groups.setdefault(at, []).append((i, m))
    return sorted(groups.items())


async def _sleep_until(at: datetime) -> None:
    """Return once the wall clock has reached ``at`` (never before: the loop's timers run on another clock)."""
    while (left := (at - datetime.now(UTC)).total_seconds()) > 0:
        await asyncio.sleep(left + 0.001)


def _reply_routes(nc) -> dict:
    """The connection's table of subscriptions (sid -> handler) read straight from its parser: installed once per
    connection, in front of the client's own ``_process_msg`` (every other sid goes on to it)."""
    routes = nc.__dict__.get("_zx_reply_routes")
    if routes is None:
        routes = nc._zx_reply_routes = {}
        own = nc._process_msg

        async def process_msg(sid, subject, reply, data, headers):
            handler = routes.get(sid)
            if handler is None:
                await own(sid, subject, reply, data, headers)
            else:
                handler(subject, data, headers)
        nc._process_msg = process_msg
    return routes


def _raw_hooks(nc) -> bool:
    """Whether this nats-py client has the internals the wire fast path uses."""
    return (all(callable(getattr(nc, name, None)) for name in ("_send_command", "_flush_pending", "_process_msg"))
            and hasattr(nc, "_flush_queue") and isinstance(getattr(nc, "stats", None), dict)
            and isinstance(getattr(nc, "max_payload", None), int))


_NOT_YET = object()


class _Batch:
    __slots__ = ("results", "waiting", "done")

    def __init__(self, n: int) -> None:
        self.results: list = [_NOT_YET] * n
        self.waiting = n
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        if n == 0:
            self.done.set_result(None)

    def settle(self, i: int, error: BaseException | None) -> None:
        if 0 <= i < len(self.results) and self.results[i] is _NOT_YET:
            self.results[i] = error
            self.waiting -= 1
            if self.waiting == 0 and not self.done.done():
                self.done.set_result(None)

    def outcome(self) -> list:
        return [TimeoutError("no JetStream ack") if r is _NOT_YET else r for r in self.results]


def _reply_outcome(data: bytes, status: str) -> BaseException | None:
    """None when a reply is JetStream's ack of a stored (or duplicate) message, else why it failed. ``status``: an
    empty reply's status code (503 "no responders" when no stream holds the subject). Both send paths read acks
    here: the wire path from the parser's raw header bytes, the public path from ``Msg.headers``."""
    if data.startswith(b'{"stream":') and b'"error"' not in data:
        return None
    if not data:
        return RuntimeError(f"no JetStream ack (status {status or 'empty reply'})")
    return _reply_error(data)


def _reply_error(data: bytes) -> BaseException | None:
    """A non-empty JetStream reply that is not the plain success form: None if it still acks, else its error."""
    try:
        reply = json.loads(data)
    except ValueError:
        return RuntimeError(f"unreadable JetStream reply {data[:80]!r}")
    if isinstance(reply, dict) and "error" not in reply and "seq" in reply:
        return None
    err = reply.get("error") if isinstance(reply, dict) else None
    return RuntimeError(f"JetStream refused: {err or reply}")


class DrainingRelay(OutboxRelay):
    def __init__(self, *args, stats: RelayStats | None = None, depth: int = 4, prefetch_s: float = 0.0,
                 prefetch_batch: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._timers: dict[datetime, asyncio.TimerHandle] = {}
        self.stats = stats or RelayStats()
        self.depth = max(1, depth)
        # Claim ahead: a lane that finds nothing due claims up to prefetch_batch rows due within prefetch_s and holds
        # them (claimed, marked, locked, uncommitted) until their time; 0 = claim only what is due.
        self.prefetch_s = max(0.0, prefetch_s)
        self.prefetch_batch = prefetch_batch or self.batch_size
        self._acks: BatchAcks | None = None
        self._subjects: dict[str, str] = {}
        self._next_lookup = 0.0
        t = self.table
        name = f"{t.schema}.{t.name}"
        # The earliest release time still ahead among unsent rows (an index probe on ix_outbox_release).
        self._next_release_stmt = text(f"""
            SELECT min(coalesce(not_before, created_at)) FROM {name}
             WHERE published_at IS NULL AND coalesce(not_before, created_at) > :now""").bindparams(
            bindparam("now", type_=DateTime(timezone=True)))
        # Claim and mark in one statement: the batch's rows whose time has come (not_before, or at once =
        # created_at, for every other event: the partial index ix_outbox_release of migration 0004, so a claim reads
        # only released, unsent rows, in release order), locked with SKIP LOCKED and marked sent in the same UPDATE.
        # The mark commits only after JetStream acked the batch; until then the rows stay locked, and a relay that
        # dies rolls the mark back with its transaction.
        # The locked rows are addressed by ctid (a TID scan; stable while we hold their locks): a join on event_id
        # made the planner hash-join a sequential scan of the whole outbox, sent rows included, on every claim.
        # A claim made ahead (``:upto`` later than ``:now``) is sent at each row's release time, which is also the
        # sent time its mark records (published_at is the later of the claim and the release).
        self._claim_stmt = text(f"""
            UPDATE {name} SET published_at = greatest(:now, coalesce(not_before, created_at)),
                   attempts = attempts + 1, last_error = NULL
             WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM {name}
                    WHERE published_at IS NULL AND coalesce(not_before, created_at) <= :upto
                    ORDER BY coalesce(not_before, created_at) LIMIT :n FOR UPDATE SKIP LOCKED))
            RETURNING event_id::text, subject, payload::text, coalesce(not_before, created_at)""").bindparams(
            bindparam("now", type_=DateTime(timezone=True)), bindparam("upto", type_=DateTime(timezone=True)),
            bindparam("n", type_=Integer))
        # Messages JetStream did not ack go back to unsent, with the error (attempts already counted by the claim).
        self._unmark_stmt = text(f"""
            UPDATE {name} AS o SET published_at = NULL, last_error = v.error
              FROM unnest(:ids, :errors) AS v(id, error) WHERE o.event_id = v.id""").bindparams(
            bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=False))), bindparam("errors", type_=ARRAY(Text)))

    def wake_at(self, when: datetime) -> None:
        """Run a pass at ``when`` and, claiming ahead, ``prefetch_s`` before it (or now, if that is past): the pass
        ahead claims the rows to send at ``when``; the pass at ``when`` is what lets a survivor send, on time, rows
        that a replica killed after claiming them ahead released. One timer per distinct instant: everyone's
        08:00:00 is one timer."""
        now = datetime.now(UTC)
        self._arm(when, now)
        if self.prefetch_s and when > now:
            self._arm(max(now, when - timedelta(seconds=self.prefetch_s)), now)

    def _arm(self, fire_at: datetime, now: datetime) -> None:
        if fire_at in self._timers:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(fire_at, None)
            self.wake()
        self._timers[fire_at] = loop.call_later(max(0.0, (fire_at - now).total_seconds() + 0.002), fire)

    async def stop(self) -> None:
        await super().stop()
        if self._acks is not None:
            await self._acks.close()
            self._acks = None

    async def flush_once(self) -> int:
        """Drain every row whose time has come. One lane starts; each full batch a lane claims starts another, up to
        ``depth`` lanes at a time (an idle poll costs one query, a peak gets every lane). While lanes run, one more
        starts every ``poll_interval_s`` when fewer than ``depth`` are running: while some hold rows claimed ahead,
        another looks for rows that became claimable meanwhile (a killed replica's, let go before their time).
        Returns the messages acknowledged, or 0 when any failed (the loop then backs off before retrying them); a
        lane's error is raised after the others end."""
        lanes: list[asyncio.Task] = []

        def another() -> None:
            if sum(not task.done() for task in lanes) < self.depth:
                lanes.append(asyncio.create_task(self._lane(another), name="outbox-relay-lane"))
        another()
        results: list = []
        try:
            while running := [task for task in lanes if not task.done()]:     # lanes may be added as they run
                done, _ = await asyncio.wait(running, timeout=self.poll_interval_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    another()
            for task in lanes:
                exc = task.exception()        # raised below, once every lane has ended
                results.append(exc if exc is not None else task.result())
        finally:
            for task in lanes:                    # cancelled (the relay is stopping): their transactions roll back
                task.cancel()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        sent = sum(ok for ok, _ in results)
        clock = time.monotonic()
        if sent or clock >= self._next_lookup:
            self._next_lookup = clock + LOOKUP_EVERY_S
            await self._arm_next_release()
        if any(bad for _, bad in results):
            self._failures += 1
            return 0
        return sent

    async def _arm_next_release(self) -> datetime | None:
        """Wake at the next release time of a row staged by any replica (not only this one's scheduler)."""
        async with self.sessionmaker() as session:
            when = (await session.execute(self._next_release_stmt, {"now": datetime.now(UTC)})).scalar()
        if when is not None:
            self.wake_at(when)
        return when

    async def _lane(self, another) -> tuple[int, int]:
        """One lane: on one connection (checked out once per drain), batch after batch in its own transaction —
        claim-and-mark, send, gather the acks, put back what was not acked, commit — until a claim comes back short.
        Lanes run side by side, so one lane's claim and send overlap the others' ack waits and commits.
        Returns (acked, failed); stops after a batch with failures."""
        st = self.stats
        acked = 0
        async with self.sessionmaker() as session:
            while True:
                async with session.begin():
                    started = time.perf_counter()
                    now = datetime.now(UTC)
                    size = self.batch_size
                    rows = (await session.execute(self._claim_stmt, {"now": now, "upto": now, "n": size})).all()
                    if not rows and self.prefetch_s:
                        # nothing due: claim what is due soon, to send at its time (claimed and marked by then)
                        size = self.prefetch_batch
                        rows = (await session.execute(self._claim_stmt, {
                            "now": now, "upto": now + timedelta(seconds=self.prefetch_s), "n": size})).all()
                    # a claim that finds nothing is an idle poll (or the end of a drain): counted apart
                    st.stage.labels("claim" if rows else "claim_empty").inc(time.perf_counter() - started)
                    if not rows:
                        return acked, 0
                    if len(rows) == size:
                        another()
                    results = await self._publish(rows, now)
                    failed = [(r[0], exc) for r, exc in zip(rows, results) if exc is not None]
                    with st.timed("mark"):
                        await self._settle(session, failed)
                    commit_started = time.perf_counter()
                st.stage.labels("commit").inc(time.perf_counter() - commit_started)
                ok = len(rows) - len(failed)
                st.batches.inc()
                st.messages.inc(ok)
                acked += ok
                if failed:
                    return acked, len(failed)
                if len(rows) < size:
                    return acked, 0

    async def _settle(self, session, failed: list) -> None:
        """After the acks, before the commit: the rows JetStream did not ack go back to unsent (one statement
        however many failed, e.g. broker down); the others stay marked by the claim."""
        if failed:
            await session.execute(self._unmark_stmt, {
                "ids": [e for e, _ in failed], "errors": [(str(exc) or type(exc).__name__)[:500] for _, exc in failed]})

    async def _publish(self, rows, now: datetime) -> list:
        """Send the batch (``Nats-Msg-Id`` = event id, so a re-send is dropped by the stream) and gather its acks:
        per row None (acked) or the exception that failed it (stays unsent, retried)."""
        if self._acks is None:
            assert self.bus.nc is not None, "bus not connected"
            self._acks = BatchAcks(self.bus.nc)
        subjects = self._subjects
        messages = []
        ahead = False
        for event_id, subject, payload, at in rows:
            wire = subjects.get(subject)
            if wire is None:
                wire = subjects[subject] = self.bus.wire_subject(subject)
            messages.append((wire, payload.encode(), event_id))
            ahead = ahead or at > now
        release = [r[3] for r in rows] if ahead else None
        return await self._acks.publish(messages, ACK_TIMEOUT_S, self.stats, release=release)
