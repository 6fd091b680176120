"""What every booking use case shares: settings, the clock and the 114-style time rules, one transaction per use
case (opened here so that Redis side effects follow the commit), the provider of a hospital, and the masked
views. Slot accounting, always in Postgres: ``remaining + active holds + active bookings == capacity``."""
from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common import cursors

from . import repository as repo
from .config import Settings
from .errors import (BookingNotFoundError, BookingWindowClosedError, InvalidCursorError, InvalidDateError,
                     SessionClosedError, SessionInPastError, UnknownDepartmentError)
from .knowledge import Department
from .models import Booking, Doctor, Hold, Hospital, Session
from .personal_data import PersonalDataVault, mask_id_number, mask_name, mask_phone
from .providers import BookingProvider, HttpHisProvider, LocalProvider
from .slots import SlotCounts


T = TypeVar("T")
PERIODS = ("morning", "afternoon", "evening")
TITLES = ("主任医师", "副主任医师", "主治医师", "住院医师")


@dataclass(frozen=True)
class PatientInput:
    name: str
    id_number: str
    phone: str


def _plus_days(day: date, days: int, field: str) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise InvalidDateError(field, "日期超出范围。 The date is out of range.") from None


def _encode_cursor(parts: list[Any]) -> str:
    return cursors.encode(parts)


def _decode_cursor(raw: str) -> list[Any]:
    try:
        parts = cursors.decode(raw)
    except ValueError:
        raise InvalidCursorError("cursor") from None
    if not isinstance(parts, list):
        raise InvalidCursorError("cursor")
    return parts


_RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def retry_deadlocks(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Run a use case again when Postgres aborted its transaction to break a deadlock (rare lock-order races
    between closing a session, confirming and cancelling). Safe because each use case is one transaction and
    its side effects come after the commit."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        for attempt in range(3):
            try:
                return await fn(*args, **kwargs)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in _RETRYABLE_SQLSTATES or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    return wrapper


class ServiceBase:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], slots: SlotCounts,
                 departments: dict[str, Department], vault: PersonalDataVault) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.slots = slots
        self.departments = departments
        self.vault = vault
        self.tz = ZoneInfo(settings.timezone)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz)

    def booking_cutoff(self, day: date) -> datetime:
        return self._at(day - timedelta(days=self.settings.booking_cutoff_days_before), self.settings.booking_cutoff_time)

    def cancel_deadline(self, day: date) -> datetime:
        return self._at(day - timedelta(days=self.settings.cancel_deadline_days_before),
                        self.settings.cancel_deadline_time)

    def window(self, sess: Session, seq_no: int) -> tuple[str, str]:
        """The time window of a sequence number: the period's opening hours split evenly by capacity."""
        start, end = self.settings.period_hours[sess.period]
        total = (datetime.combine(sess.date, end) - datetime.combine(sess.date, start)).total_seconds() / 60
        step = total / sess.capacity
        a = datetime.combine(sess.date, start) + timedelta(minutes=round(step * (seq_no - 1)))
        b = datetime.combine(sess.date, start) + timedelta(minutes=round(step * seq_no))
        return a.strftime("%H:%M"), b.strftime("%H:%M")

    def _check_bookable(self, sess: Session) -> None:
        if sess.status != "open":
            raise SessionClosedError(reason=sess.closed_reason)
        if sess.date < self.today():
            raise SessionInPastError()
        cutoff = self.booking_cutoff(sess.date)
        if self.now() >= cutoff:
            raise BookingWindowClosedError(cutoff=cutoff.isoformat())

    def provider_for(self, hospital: Hospital) -> BookingProvider:
        if hospital.provider == "his" and hospital.his_base_url:
            return HttpHisProvider(hospital.his_base_url, self.settings.his_timeout_s)
        return LocalProvider()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as s, s.begin():
            yield s

    def department(self, department_id: str, field: str = "department_id") -> Department:
        dep = self.departments.get(department_id)
        if dep is None:
            raise UnknownDepartmentError(field, known=sorted(self.departments))
        return dep

    async def _insert_session(self, s: AsyncSession, doctor_id: uuid.UUID, day: date, period: str, capacity: int,
                              fee_cents: int, external_ref: str | None = None) -> Session | None:
        sid = uuid.uuid4()
        row = (await s.execute(pg_insert(Session).values(
            id=sid, doctor_id=doctor_id, date=day, period=period, capacity=capacity, remaining=capacity,
            fee_cents=fee_cents, status="open", version=0, external_ref=external_ref)
            .on_conflict_do_nothing(constraint="uq_session_doctor_date_period").returning(Session.id))).first()
        if row is None:
            return None
        return await s.get(Session, sid)

    async def _owned(self, s: AsyncSession, user_id: str, booking_id: uuid.UUID, lock: bool = False) -> Booking:
        q = select(Booking).where(Booking.id == booking_id, Booking.user_id == user_id)
        if lock:
            q = q.with_for_update()
        b = (await s.execute(q)).scalar_one_or_none()
        if b is None:
            raise BookingNotFoundError()
        return b

    async def _view_of(self, s: AsyncSession, b: Booking) -> dict[str, Any]:
        sess, doc, hosp = await repo.session_with_context(s, b.session_id)
        return self.booking_view(b, sess, doc, hosp)

    def _masked_patient(self, b: Booking) -> dict[str, str]:
        return {"name": mask_name(self.vault.decrypt("name", b.name_enc, b.key_id)),
                "id_number": mask_id_number(self.vault.decrypt("id_number", b.id_number_enc, b.key_id)),
                "phone": mask_phone(self.vault.decrypt("phone", b.phone_enc, b.key_id))}

    def hospital_view(self, h: Hospital) -> dict[str, Any]:
        return {"id": str(h.id), "name": h.name, "city": h.city, "address": h.address, "level": h.level,
                "provider": h.provider}

    def doctor_view(self, d: Doctor, h: Hospital) -> dict[str, Any]:
        dep = self.departments.get(d.department_id)
        return {"id": str(d.id), "name": d.name, "title": d.title, "specialties": list(d.specialties),
                "bio": d.bio, "photo_url": d.photo_url,
                "department": {"id": d.department_id, "name": dep.name if dep else d.department_id},
                "hospital": {"id": str(h.id), "name": h.name}}

    def session_view(self, x: Session) -> dict[str, Any]:
        start, end = self.settings.period_hours[x.period]
        return {"id": str(x.id), "doctor_id": str(x.doctor_id), "date": x.date.isoformat(), "period": x.period,
                "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "capacity": x.capacity,
                "remaining": x.remaining, "fee_cents": x.fee_cents, "status": x.status,
                "booking_closes_at": self.booking_cutoff(x.date).isoformat()}

    def hold_view(self, h: Hold, remaining: int) -> dict[str, Any]:
        return {"id": str(h.id), "session_id": str(h.session_id), "status": h.status,
                "expires_at": h.expires_at.isoformat(), "remaining": remaining}

    def booking_view(self, b: Booking, sess: Session, doc: Doctor, hosp: Hospital) -> dict[str, Any]:
        ws, we = self.window(sess, b.seq_no)
        dep = self.departments.get(doc.department_id)
        return {"id": str(b.id), "status": b.status, "session_id": str(sess.id),
                "hospital": {"id": str(hosp.id), "name": hosp.name},
                "department": {"id": doc.department_id, "name": dep.name if dep else doc.department_id},
                "doctor": {"id": str(doc.id), "name": doc.name, "title": doc.title},
                "date": sess.date.isoformat(), "period": sess.period, "window_start": ws, "window_end": we,
                "seq_no": b.seq_no, "fee_cents": sess.fee_cents, "patient": self._masked_patient(b),
                "cancel_deadline": self.cancel_deadline(b.visit_date).isoformat(),
                "cancel_reason": b.cancel_reason,
                "created_at": b.created_at.isoformat() if b.created_at else None,
                "cancelled_at": b.cancelled_at.isoformat() if b.cancelled_at else None}


_PERIOD_ZH = {"morning": "上午", "afternoon": "下午", "evening": "晚间"}
