"""The firing loop. Every replica runs it; rows are claimed with ``FOR UPDATE SKIP LOCKED`` so each due reminder is
taken by exactly one replica, and the claim, the state change and the ``reminder.due.v1`` outbox row commit in one
transaction: a replica killed mid-batch rolls back and another takes the rows; nothing is sent twice or lost.
Event ids derive from (occurrence, attempt), so even a replayed outbox row is dropped by JetStream's dedupe."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, String, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.events import DoseMissedV1, DoseRecordedV1, ReminderDueV1

from .models import Change, Occurrence, Plan
from .repository import event_id
from .service import Reminders

log = logging.getLogger("zhenxi.reminders.scheduler")


_UPDATE_FIRED = text("""
    UPDATE reminders.occurrences AS o
       SET fire_count = v.fire_count, next_fire_at = v.next_fire_at, caregiver_alerted_at = v.alerted,
           state = v.state, last_fired_at = v.fired
      FROM unnest(:ids, :counts, :nexts, :alerted, :states, :fired)
           AS v(id, fire_count, next_fire_at, alerted, state, fired)
     WHERE o.id = v.id""").bindparams(
    bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))), bindparam("counts", type_=ARRAY(Integer)),
    bindparam("nexts", type_=ARRAY(DateTime(timezone=True))), bindparam("fired", type_=ARRAY(DateTime(timezone=True))),
    bindparam("alerted", type_=ARRAY(DateTime(timezone=True))), bindparam("states", type_=ARRAY(String)))
_INSERT_OUTBOX = text("""
    INSERT INTO reminders.outbox (event_id, subject, payload, not_before)
    SELECT e, s, p::jsonb, nb FROM unnest(:ids, :subjects, :payloads, :not_before) AS v(e, s, p, nb)""").bindparams(
    bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))), bindparam("subjects", type_=ARRAY(String)),
    bindparam("payloads", type_=ARRAY(String)), bindparam("not_before", type_=ARRAY(DateTime(timezone=True))))


PRUNE_PAGES = 1024
# Retention sweeps the outbox's heap a window of pages at a time (a TID range scan: no index, so a "sent" mark at a
# peak writes no entry for it, and a pass costs the same whatever the outbox holds): sent rows written before the
# cutoff, in pages [lo, hi). A sent row is never written again, so its ctid is stable.
_PRUNE_OUTBOX = text("""
    DELETE FROM reminders.outbox WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM reminders.outbox
            WHERE ctid >= format('(%s,0)', CAST(:lo AS bigint))::tid
              AND ctid < format('(%s,0)', CAST(:hi AS bigint))::tid
              AND created_at < :cutoff AND published_at IS NOT NULL))""").bindparams(
    bindparam("cutoff", type_=DateTime(timezone=True)), bindparam("lo", type_=Integer),
    bindparam("hi", type_=Integer))
_OUTBOX_PAGES = text("SELECT pg_relation_size('reminders.outbox') / current_setting('block_size')::int")


async def insert_outbox(session: AsyncSession, events: list, not_before: list[datetime | None] | None = None) -> None:
    """Stage events in the outbox (same transaction), as ``add_event`` does, in one statement. ``not_before``
    (per event, None = at once) holds a pre-claimed reminder back until its due time."""
    await session.execute(_INSERT_OUTBOX, {"ids": [e.event_id for e in events],
                                           "subjects": [e.subject for e in events],
                                           "payloads": [e.model_dump_json() for e in events],
                                           "not_before": not_before or [None] * len(events)})
    session.sync_session.info["outbox_dirty"] = True


class Scheduler:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], service: Reminders,
                 on_staged: Callable[[datetime], None] | None = None) -> None:
        self.sessionmaker = sessionmaker
        # Told the time each pre-claimed reminder must go out (after commit), so the relay wakes exactly then.
        self.on_staged = on_staged
        self.service = service
        self.settings = service.settings
        self._task: asyncio.Task | None = None
        self._next_housekeeping = 0.0
        self._top_up_batch = 200
        self._prune_from = 0         # the retention's next heap page (prune_outbox)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reminders-scheduler")

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
                busy = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a DB blip must not end the loop; the next pass retries
                log.exception("scheduler pass failed")
                busy = 0
            if not busy:
                await asyncio.sleep(self.settings.scheduler_poll_s)

    async def tick(self, now: datetime | None = None) -> int:
        """One pass: fire what is due; every few seconds also mark what is past its grace and top up the
        horizon (minutes-scale work that must not slow the firing loop). Returns work done."""
        work = await self.fire_due(now)
        clock = asyncio.get_running_loop().time()
        if clock >= self._next_housekeeping:
            missed, topped = await self.mark_missed(now), await self.top_up(now)
            pruned = await self.prune_outbox()
            busy = missed >= self.settings.scheduler_batch or topped >= self._top_up_batch
            self._next_housekeeping = clock + (0 if busy else self.settings.housekeeping_every_s)
            work += missed + topped + pruned
        return work

    async def prune_outbox(self, retention_h: float | None = None, pages: int = PRUNE_PAGES) -> int:
        """Delete the sent outbox rows written more than ``retention_h`` hours ago (default: the
        ``outbox_retention_h`` setting; 0 keeps every row) in the next ``pages`` pages of the outbox's heap; the
        next pass goes on from there, and after the last page starts again at the first (a 1,000,000-row outbox is
        about 60,000 pages: swept in about five minutes of passes every ``housekeeping_every_s``). On the real
        clock whatever clock the pass runs on: a pass that tests drive on a chosen clock days ahead must not take
        rows sent a moment ago. A row still unsent is never deleted; a row being sent is unsent to every other
        transaction until its mark commits."""
        hours = self.settings.outbox_retention_h if retention_h is None else retention_h
        if hours <= 0:
            return 0
        cutoff = datetime.now(UTC) - timedelta(hours=hours)
        async with self.sessionmaker() as session, session.begin():
            size = (await session.execute(_OUTBOX_PAGES)).scalar() or 0
            if self._prune_from >= size:
                self._prune_from = 0
            lo = self._prune_from
            self._prune_from = lo + pages
            res = await session.execute(_PRUNE_OUTBOX, {"cutoff": cutoff, "lo": lo, "hi": lo + pages})
            return res.rowcount or 0

    async def fire_due(self, now: datetime | None = None, batch: int | None = None,
                       lookahead_s: float | None = None) -> int:
        """Claim what is due by ``now + lookahead`` (default: the ``fire_lookahead_s`` setting on the real clock, 0
        on a chosen clock). A reminder claimed before its time is staged with ``not_before`` = its due time, so the
        claim work is done before a peak and the relay publishes at the due time, not after it."""
        real_clock = now is None
        now = now or datetime.now(UTC)
        s = self.settings
        ahead = timedelta(seconds=lookahead_s if lookahead_s is not None
                          else (s.fire_lookahead_s if real_clock else 0.0))
        o, p = Occurrence.__table__, Plan.__table__
        async with self.sessionmaker() as session, session.begin():
            rows = (await session.execute(
                select(o.c.id, o.c.user_id, o.c.plan_id, o.c.kind, o.c.due_at, o.c.fire_count, o.c.state,
                       o.c.next_fire_at, o.c.caregiver_alerted_at,
                       p.c.caregiver_enc.is_not(None).label("has_caregiver"), p.c.caregiver_after_min)
                .select_from(o.outerjoin(p, p.c.id == o.c.plan_id))
                .where(o.c.next_fire_at <= now + ahead).order_by(o.c.next_fire_at)
                .limit(batch or s.scheduler_batch)
                .with_for_update(of=o, skip_locked=True))).all()
            if not rows:
                return 0
            events, not_before, updates = [], [], []
            repeat = timedelta(minutes=s.repeat_every_min)
            for r in rows:
                at = max(now, r.next_fire_at)   # when this fire happens: now, or its due time if claimed ahead
                hold = at if at > now else None
                attempt = r.fire_count + 1
                caregiver_at = None
                if r.kind == "dose" and r.has_caregiver and r.caregiver_alerted_at is None:
                    caregiver_at = r.due_at + timedelta(minutes=r.caregiver_after_min or s.caregiver_after_min)
                send_patient = r.fire_count == 0 or (r.kind == "dose" and r.fire_count <= s.max_repeats
                                                     and at >= r.due_at + repeat * r.fire_count)
                if send_patient:
                    events.append(ReminderDueV1(event_id=event_id(r.id, str(attempt)), occurred_at=at, user_id=r.user_id,
                                                occurrence_id=str(r.id), plan_id=str(r.plan_id) if r.plan_id else None,
                                                kind=r.kind, due_at=r.due_at, attempt=attempt))
                    not_before.append(hold)
                alerted = r.caregiver_alerted_at
                if caregiver_at is not None and at >= caregiver_at:
                    events.append(ReminderDueV1(event_id=event_id(r.id, "caregiver"), occurred_at=at, user_id=r.user_id,
                                                occurrence_id=str(r.id), plan_id=str(r.plan_id), kind=r.kind,
                                                due_at=r.due_at, attempt=attempt, caregiver=True))
                    not_before.append(hold)
                    alerted, caregiver_at = at, None
                count = attempt if send_patient else r.fire_count
                nxt = []
                if r.kind == "dose" and count <= s.max_repeats:
                    # Catching up after an outage sends one reminder, not a burst: the next waits a full interval.
                    nxt.append(max(r.due_at + repeat * count, at + repeat) if send_patient
                               else r.due_at + repeat * count)
                if caregiver_at is not None:
                    nxt.append(caregiver_at)
                updates.append((r.id, count, max(min(nxt), at + timedelta(seconds=1)) if nxt else None, alerted,
                                "due" if r.state == "scheduled" and r.kind == "dose" else r.state, at))
            # Two statements per batch whatever its size (arrays, not one round trip per row).
            ids, counts, nexts, alerted_at, states, fired = (list(c) for c in zip(*updates))
            await session.execute(_UPDATE_FIRED, {"ids": ids, "counts": counts, "nexts": nexts,
                                                  "alerted": alerted_at, "states": states, "fired": fired})
            if events:
                await insert_outbox(session, events, not_before)
        if self.on_staged is not None:
            for when in {nb for nb in not_before if nb is not None}:
                self.on_staged(when)
        return len(rows)

    async def mark_missed(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(minutes=self.settings.grace_min)
        async with self.sessionmaker() as session, session.begin():
            res = (await session.execute(text("""
                UPDATE reminders.occurrences AS o
                   SET state = 'missed', next_fire_at = NULL, version = o.version + 1, updated_at = :now
                  FROM (SELECT id FROM reminders.occurrences
                         WHERE kind = 'dose' AND state IN ('scheduled', 'due') AND due_at <= :cutoff
                         ORDER BY due_at LIMIT :batch FOR UPDATE SKIP LOCKED) AS c
                 WHERE o.id = c.id
             RETURNING o.id, o.user_id, o.plan_id, o.due_at, o.version"""),
                {"now": now, "cutoff": cutoff, "batch": self.settings.scheduler_batch})).all()
            if not res:
                return 0
            plans = {r.id: r for r in (await session.execute(select(Plan.id, Plan.drug_id, Plan.drug_class).where(
                Plan.id.in_({r.plan_id for r in res})))).all()}
            events = []
            for r in res:
                pl = plans.get(r.plan_id)
                events.append(DoseRecordedV1(event_id=event_id(r.id, "missed"), occurred_at=now, user_id=r.user_id,
                                             plan_id=str(r.plan_id), occurrence_id=str(r.id), state="missed",
                                             due_at=r.due_at, drug_id=pl.drug_id if pl else None,
                                             drug_class=pl.drug_class if pl else None))
                events.append(DoseMissedV1(event_id=event_id(r.id, "dose_missed"), occurred_at=now, user_id=r.user_id,
                                           plan_id=str(r.plan_id), dose_id=str(r.id)))
            await insert_outbox(session, events)
            await session.execute(insert(Change), [{"user_id": r.user_id, "resource": "occurrence",
                                                    "resource_id": r.id, "version": r.version} for r in res])
            return len(res)

    async def top_up(self, now: datetime | None = None, batch: int | None = None) -> int:
        now = now or datetime.now(UTC)
        threshold = now + timedelta(days=self.settings.horizon_days) - timedelta(days=1)
        async with self.sessionmaker() as session, session.begin():
            plans = (await session.execute(select(Plan).where(
                Plan.active.is_(True), Plan.deleted_at.is_(None), Plan.expanded_until.is_not(None),
                Plan.expanded_until < threshold).limit(batch or self._top_up_batch)
                .with_for_update(skip_locked=True))).scalars().all()
            for plan in plans:
                await self.service.top_up(session, plan, now)
            return len(plans)
