"""Queries of the booking schema; only flush(), never commit()."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import SCHEMA, Booking, Doctor, Hold, Hospital, Session


async def take_slot(s: AsyncSession, session_id: uuid.UUID) -> tuple[int, int] | None:
    """The conditional update that can never oversell: one slot, only while one is left and the session is open."""
    row = (await s.execute(
        update(Session).where(Session.id == session_id, Session.status == "open", Session.remaining > 0)
        .values(remaining=Session.remaining - 1, version=Session.version + 1)
        .returning(Session.remaining, Session.version))).first()
    return (row[0], row[1]) if row else None


async def give_back(s: AsyncSession, session_id: uuid.UUID, n: int = 1) -> tuple[int, int, str]:
    row = (await s.execute(
        update(Session).where(Session.id == session_id)
        .values(remaining=func.least(Session.capacity, Session.remaining + n), version=Session.version + 1)
        .returning(Session.remaining, Session.version, Session.status))).one()
    return row[0], row[1], row[2]


async def expire_holds(s: AsyncSession, now: datetime, session_id: uuid.UUID | None = None,
                       limit: int = 500) -> dict[uuid.UUID, int]:
    """Mark active holds past their expiry as expired (each exactly once, even with several sweepers) and
    return how many slots each session gets back."""
    sub = select(Hold.id).where(Hold.status == "active", Hold.expires_at <= now)
    if session_id is not None:
        sub = sub.where(Hold.session_id == session_id)
    sub = sub.limit(limit).with_for_update(skip_locked=True)
    rows = (await s.execute(update(Hold).where(Hold.id.in_(sub.scalar_subquery()))
                            .values(status="expired").returning(Hold.session_id))).all()
    counts: dict[uuid.UUID, int] = {}
    for (sid,) in rows:
        counts[sid] = counts.get(sid, 0) + 1
    return counts


async def lowest_free_seq(s: AsyncSession, session_id: uuid.UUID, capacity: int) -> int | None:
    return (await s.execute(text(
        f"SELECT n FROM generate_series(1, :cap) AS n WHERE n NOT IN "
        f"(SELECT seq_no FROM {SCHEMA}.bookings WHERE session_id = :sid AND status <> 'cancelled') "
        "ORDER BY n LIMIT 1"), {"cap": capacity, "sid": session_id})).scalar()


async def session_with_context(s: AsyncSession, session_id: uuid.UUID, *, lock: bool = False
                               ) -> tuple[Session, Doctor, Hospital] | None:
    q = select(Session).where(Session.id == session_id)
    if lock:
        q = q.with_for_update()
    sess = (await s.execute(q)).scalar_one_or_none()
    if sess is None:
        return None
    doc = await s.get(Doctor, sess.doctor_id)
    hosp = await s.get(Hospital, doc.hospital_id)
    return sess, doc, hosp


async def active_bookings_on_day(s: AsyncSession, id_idx: str, day: date) -> int:
    return (await s.execute(select(func.count()).select_from(Booking).where(
        Booking.id_number_idx == id_idx, Booking.visit_date == day,
        Booking.status.in_(("confirmed", "attended"))))).scalar_one()


async def patient_has_booking_in_session(s: AsyncSession, id_idx: str, session_id: uuid.UUID) -> bool:
    return (await s.execute(select(Booking.id).where(
        Booking.id_number_idx == id_idx, Booking.session_id == session_id,
        Booking.status != "cancelled").limit(1))).first() is not None


async def no_shows_since(s: AsyncSession, id_idx: str, since: date) -> list[date]:
    rows = await s.execute(select(Booking.visit_date).where(
        Booking.id_number_idx == id_idx, Booking.status == "no_show", Booking.visit_date >= since)
        .order_by(Booking.visit_date))
    return [r[0] for r in rows]


async def lock_patient(s: AsyncSession, id_idx: str) -> None:
    """Serialise one patient's confirmations so the daily cap and per-session rule hold under concurrency."""
    await s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 13))"), {"k": id_idx})


SEARCH_SQL = f"""
WITH avail AS (
  SELECT doctor_id, sum(remaining) AS remaining
  FROM {SCHEMA}.sessions
  WHERE status = 'open' AND date BETWEEN :date_from AND :date_to
  GROUP BY doctor_id
), ranked AS (
  SELECT d.id, {{rank}} AS rank, coalesce(a.remaining, 0)::int AS avail
  FROM {SCHEMA}.doctors d LEFT JOIN avail a ON a.doctor_id = d.id
  WHERE {{where}}
)
SELECT id, rank, avail FROM ranked
WHERE {{cursor}}
ORDER BY rank DESC, avail DESC, id DESC
LIMIT :limit
"""


async def search_doctors(s: AsyncSession, *, tsquery: str | None, hospital: uuid.UUID | None,
                         department: str | None, title: str | None, date_from: date, date_to: date,
                         available: bool, cursor: tuple[str, int, str] | None, limit: int
                         ) -> list[tuple[uuid.UUID, float, int]]:
    where = ["TRUE"]
    params: dict = {"date_from": date_from, "date_to": date_to, "limit": limit}
    if tsquery:
        rank = "round(ts_rank(d.search_tsv, to_tsquery('simple', :tsq))::numeric, 6)"
        where.append("d.search_tsv @@ to_tsquery('simple', :tsq)")
        params["tsq"] = tsquery
    else:
        rank = "0::numeric"
    if hospital is not None:
        where.append("d.hospital_id = :hospital")
        params["hospital"] = hospital
    if department:
        where.append("d.department_id = :department")
        params["department"] = department
    if title:
        where.append("d.title = :title")
        params["title"] = title
    if available:
        where.append("coalesce(a.remaining, 0) > 0")
    cursor_sql = "TRUE"
    if cursor:
        cursor_sql = "(rank, avail, id) < (CAST(:c_rank AS numeric), :c_avail, CAST(:c_id AS uuid))"
        params["c_rank"], params["c_avail"], params["c_id"] = cursor
    sql = SEARCH_SQL.format(rank=rank, where=" AND ".join(where), cursor=cursor_sql)
    rows = await s.execute(text(sql), params)
    return [(r.id, float(r.rank), int(r.avail)) for r in rows]
