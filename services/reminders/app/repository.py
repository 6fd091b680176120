"""Queries of the reminders schema. Only ``flush()``; the request (or the scheduler's unit of work) commits."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import CalendarToken, Change, Consent, Delivery, Device, Occurrence, Plan, outbox
from .schedules import Due

_NS = uuid.UUID("0b5a3f0e-7f6c-4f55-9d8e-2a61f0c1d7a1")


def event_id(occ_id: uuid.UUID, tag: str) -> uuid.UUID:
    """Deterministic event id of an occurrence's reminder (tag = attempt number, ``caregiver``, ``missed``...)."""
    return uuid.uuid5(_NS, f"{occ_id}:{tag}")


async def withdraw_staged(session: AsyncSession, occ: Occurrence, now: datetime) -> int:
    """Drop reminders of ``occ`` claimed ahead and still waiting for their time (a dose recorded a few seconds
    before it fell due gets no reminder). A row the relay is publishing is locked: this waits for it, then finds it
    published and leaves it."""
    ids = [event_id(occ.id, str(occ.fire_count)), event_id(occ.id, "caregiver")]
    res = await session.execute(delete(outbox).where(outbox.c.event_id.in_(ids), outbox.c.published_at.is_(None),
                                                     outbox.c.not_before > now))
    return res.rowcount or 0


async def withdraw_staged_for_plan(session: AsyncSession, plan_id: uuid.UUID, now: datetime) -> int:
    """Drop a deleted plan's reminders claimed ahead and not yet due (only unsent rows still ahead are read: a range
    of ix_outbox_release, the partial index of unsent rows by release time)."""
    res = await session.execute(delete(outbox).where(
        outbox.c.published_at.is_(None), outbox.c.not_before > now,
        func.coalesce(outbox.c.not_before, outbox.c.created_at) > now, outbox.c.subject == "reminder.due.v1",
        outbox.c.payload["plan_id"].astext == str(plan_id)))
    return res.rowcount or 0

OPEN_STATES = ("scheduled", "due")
DONE_STATES = ("taken", "taken_late", "skipped", "missed")


async def get_plan(session: AsyncSession, user_id: str, plan_id: uuid.UUID, *, lock: bool = False,
                   include_deleted: bool = False) -> Plan | None:
    stmt = select(Plan).where(Plan.id == plan_id, Plan.user_id == user_id)
    if not include_deleted:
        stmt = stmt.where(Plan.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_plans(session: AsyncSession, user_id: str) -> Sequence[Plan]:
    return (await session.execute(select(Plan).where(Plan.user_id == user_id, Plan.deleted_at.is_(None))
                                  .order_by(Plan.created_at))).scalars().all()


async def insert_occurrences(session: AsyncSession, plan: Plan, dues: list[Due]) -> int:
    if not dues:
        return 0
    rows = [{"id": uuid.uuid4(), "user_id": plan.user_id, "plan_id": plan.id, "kind": "dose", "due_at": d.at,
             "local_date": d.local_date, "state": "scheduled", "version": 1, "next_fire_at": d.at, "fire_count": 0}
            for d in dues]
    total = 0
    for i in range(0, len(rows), 5000):
        res = await session.execute(pg_insert(Occurrence).values(rows[i:i + 5000])
                                    .on_conflict_do_nothing(constraint="uq_occurrence_plan_due")
                                    .returning(Occurrence.id))
        total += len(res.all())
    return total


async def insert_reminder(session: AsyncSession, *, user_id: str, kind: str, source_key: str, due_at: datetime,
                          local_date: date, plan_id: uuid.UUID | None = None) -> bool:
    """A one-shot visit or refill reminder; a second insert with the same ``source_key`` is a no-op."""
    res = await session.execute(pg_insert(Occurrence).values(
        id=uuid.uuid4(), user_id=user_id, plan_id=plan_id, kind=kind, source_key=source_key, due_at=due_at,
        local_date=local_date, state="scheduled", version=1, next_fire_at=due_at, fire_count=0,
    ).on_conflict_do_nothing().returning(Occurrence.id))
    return res.first() is not None


async def drop_future_unsent(session: AsyncSession, plan_id: uuid.UUID, after: datetime,
                             kind: str = "dose") -> list[uuid.UUID]:
    """Delete the plan's not-yet-sent occurrences due after ``after`` (before re-expanding); their ids."""
    res = await session.execute(delete(Occurrence).where(
        Occurrence.plan_id == plan_id, Occurrence.kind == kind, Occurrence.state == "scheduled",
        Occurrence.fire_count == 0, Occurrence.due_at > after).returning(Occurrence.id))
    return [r[0] for r in res.all()]


async def get_occurrence(session: AsyncSession, user_id: str, occ_id: uuid.UUID, *,
                         lock: bool = False) -> Occurrence | None:
    stmt = select(Occurrence).where(Occurrence.id == occ_id, Occurrence.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_occurrences(session: AsyncSession, user_id: str, start: datetime, end: datetime,
                           limit: int) -> Sequence[Occurrence]:
    return (await session.execute(select(Occurrence).where(
        Occurrence.user_id == user_id, Occurrence.due_at >= start, Occurrence.due_at < end)
        .order_by(Occurrence.due_at, Occurrence.id).limit(limit))).scalars().all()


async def deliveries_for(session: AsyncSession, occ_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Delivery]]:
    out: dict[uuid.UUID, list[Delivery]] = {i: [] for i in occ_ids}
    if occ_ids:
        rows = (await session.execute(select(Delivery).where(Delivery.occurrence_id.in_(occ_ids))
                                      .order_by(Delivery.created_at))).scalars().all()
        for d in rows:
            out[d.occurrence_id].append(d)
    return out


async def next_occurrence(session: AsyncSession, plan_id: uuid.UUID, after: datetime) -> Occurrence | None:
    return (await session.execute(select(Occurrence).where(
        Occurrence.plan_id == plan_id, Occurrence.kind == "dose", Occurrence.due_at > after)
        .order_by(Occurrence.due_at).limit(1))).scalar_one_or_none()


async def last_taken(session: AsyncSession, plan_id: uuid.UUID) -> datetime | None:
    return (await session.execute(select(func.max(Occurrence.taken_at)).where(
        Occurrence.plan_id == plan_id, Occurrence.state.in_(("taken", "taken_late"))))).scalar_one_or_none()


async def dose_history(session: AsyncSession, user_id: str, from_date: date, to_date: date,
                       now: datetime) -> Sequence[Occurrence]:
    return (await session.execute(select(Occurrence).where(
        Occurrence.user_id == user_id, Occurrence.kind == "dose", Occurrence.local_date >= from_date,
        Occurrence.local_date <= to_date, Occurrence.due_at <= now).order_by(Occurrence.due_at))).scalars().all()


async def log_change(session: AsyncSession, user_id: str, resource: str, resource_id: uuid.UUID, version: int,
                     deleted: bool = False) -> None:
    await session.execute(insert(Change).values(user_id=user_id, resource=resource, resource_id=resource_id,
                                                version=version, deleted=deleted))


async def log_changes(session: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await session.execute(insert(Change), rows)


async def changes_since(session: AsyncSession, user_id: str, since: int, limit: int) -> Sequence[Change]:
    return (await session.execute(select(Change).where(Change.user_id == user_id, Change.seq > since)
                                  .order_by(Change.seq).limit(limit))).scalars().all()


async def list_devices(session: AsyncSession, user_id: str) -> Sequence[Device]:
    return (await session.execute(select(Device).where(Device.user_id == user_id, Device.deleted_at.is_(None))
                                  .order_by(Device.created_at))).scalars().all()


async def get_device(session: AsyncSession, user_id: str, device_id: uuid.UUID) -> Device | None:
    return (await session.execute(select(Device).where(Device.id == device_id, Device.user_id == user_id,
                                                       Device.deleted_at.is_(None)))).scalar_one_or_none()


async def list_consents(session: AsyncSession, user_id: str) -> Sequence[Consent]:
    return (await session.execute(select(Consent).where(Consent.user_id == user_id)
                                  .order_by(Consent.created_at))).scalars().all()


async def active_consent(session: AsyncSession, user_id: str, grantee_id: str, scope: str) -> Consent | None:
    return (await session.execute(select(Consent).where(
        Consent.user_id == user_id, Consent.grantee_id == grantee_id, Consent.scope == scope,
        Consent.revoked_at.is_(None)).limit(1))).scalar_one_or_none()


async def get_consent(session: AsyncSession, user_id: str, consent_id: uuid.UUID) -> Consent | None:
    return (await session.execute(select(Consent).where(Consent.id == consent_id, Consent.user_id == user_id))
            ).scalar_one_or_none()


async def calendar_user(session: AsyncSession, token_hash: str) -> str | None:
    return (await session.execute(select(CalendarToken.user_id).where(
        CalendarToken.token_hash == token_hash, CalendarToken.revoked_at.is_(None)))).scalar_one_or_none()


async def revoke_calendar_tokens(session: AsyncSession, user_id: str, now: datetime) -> None:
    await session.execute(update(CalendarToken).where(CalendarToken.user_id == user_id,
                                                      CalendarToken.revoked_at.is_(None)).values(revoked_at=now))


async def add_calendar_token(session: AsyncSession, user_id: str, token_hash: str) -> None:
    await session.execute(insert(CalendarToken).values(token_hash=token_hash, user_id=user_id))


async def add_deliveries(session: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await session.execute(pg_insert(Delivery).values(rows).on_conflict_do_nothing(constraint="uq_delivery_once"))


async def dose_counts_by_day(session: AsyncSession, first: date, last: date
                             ) -> tuple[dict[date, dict[str, int]], int]:
    """Doses of every patient per local day in [first, last] by state, and how many patients they belong to."""
    in_range = (Occurrence.kind == "dose", Occurrence.local_date >= first, Occurrence.local_date <= last)
    rows = (await session.execute(select(Occurrence.local_date, Occurrence.state, func.count())
                                  .where(*in_range).group_by(Occurrence.local_date, Occurrence.state))).all()
    patients = (await session.execute(select(func.count(func.distinct(Occurrence.user_id))).where(*in_range))
                ).scalar_one()
    counts: dict[date, dict[str, int]] = {}
    for day, state, n in rows:
        counts.setdefault(day, {})[state] = n
    return counts, patients
