"""The booking domain: catalogue, live counts, holds, confirmations under the 114-style rules, cancellations,
vouchers, admin look-ups with an audit trail, statistics and HIS sync. No FastAPI here.

Every use case runs in one transaction it opens itself, so that the Redis side effects (live counts, SSE pushes,
hold keys) happen only after the commit. Slot accounting, always in Postgres:
``remaining + active holds + active bookings == capacity``."""
from __future__ import annotations

import base64
import io
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import segno
from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.errors import ConflictError
from zhenxi_common.events import BookingCancelledV1, BookingCreatedV1
from zhenxi_common.outbox import add_event

from . import fhir
from . import repository as repo
from .config import Settings
from .errors import (BookingNotActiveError, BookingNotFoundError, BookingWindowClosedError, CancelDeadlinePassedError,
                     DailyCapError, DoctorNotFoundError, DuplicateBookingError,
                     HoldExpiredError, HoldNotFoundError, HoldUsedError, HospitalNotFoundError,
                     IdempotencyKeyReusedError, InvalidCursorError, InvalidDateError, NoShowBanError,
                     SessionClosedError, SessionExistsError, SessionFullError, SessionInPastError,
                     SessionNotFoundError, UnknownDepartmentError)
from .knowledge import Department
from .models import AuditLog, Booking, Doctor, Hold, Hospital, IdempotencyKey, Notification, Session
from .personal_data import (PersonalDataVault, mask_id_number, mask_name, mask_phone, normalize_id_number,
                            normalize_phone)
from .providers import BookingProvider, HisSoldOut, HttpHisProvider, LocalProvider, PatientDetails
from .search_text import document_tokens, query_tsquery
from .slots import SlotCounts

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
    return base64.urlsafe_b64encode(json.dumps(parts, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        raise InvalidCursorError("cursor") from None
    if not isinstance(parts, list):
        raise InvalidCursorError("cursor")
    return parts


class BookingService:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], slots: SlotCounts,
                 departments: dict[str, Department], vault: PersonalDataVault) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.slots = slots
        self.departments = departments
        self.vault = vault
        self.tz = ZoneInfo(settings.timezone)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # ------------------------------------------------------------------ time and rules
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

    # ------------------------------------------------------------------ catalogue (admin)
    def department(self, department_id: str, field: str = "department_id") -> Department:
        dep = self.departments.get(department_id)
        if dep is None:
            raise UnknownDepartmentError(field, known=sorted(self.departments))
        return dep

    async def create_hospital(self, actor: str, data: dict[str, Any]) -> dict[str, Any]:
        async with self.tx() as s:
            h = Hospital(id=uuid.uuid4(), **data)
            s.add(h)
            try:
                await s.flush()
            except IntegrityError:
                raise ConflictError("同名医院已存在。 A hospital with this name exists.",
                                    details={"field": "name"}) from None
            s.add(AuditLog(actor_id=actor, action="create_hospital", target={"hospital_id": str(h.id)}))
            return self.hospital_view(h)

    async def list_hospitals(self) -> list[dict[str, Any]]:
        async with self.tx() as s:
            return [self.hospital_view(h) for h in (await s.execute(select(Hospital).order_by(Hospital.name))).scalars()]

    async def create_doctor(self, actor: str, data: dict[str, Any]) -> dict[str, Any]:
        self.department(data["department_id"])
        async with self.tx() as s:
            hosp = await s.get(Hospital, data["hospital_id"])
            if hosp is None:
                raise HospitalNotFoundError(details={"field": "hospital_id"})
            d = Doctor(id=uuid.uuid4(), search_tokens=document_tokens(data["name"], data["specialties"], data["bio"]),
                       **data)
            s.add(d)
            await s.flush()
            s.add(AuditLog(actor_id=actor, action="create_doctor", target={"doctor_id": str(d.id)}))
            return self.doctor_view(d, hosp)

    async def create_session(self, actor: str, data: dict[str, Any]) -> dict[str, Any]:
        if data["date"] < self.today():
            raise InvalidDateError("date", "不能为过去的日期创建出诊。 The date is in the past.")
        async with self.tx() as s:
            doc = await s.get(Doctor, data["doctor_id"])
            if doc is None:
                raise DoctorNotFoundError(details={"field": "doctor_id"})
            sess = await self._insert_session(s, doc.id, data["date"], data["period"], data["capacity"],
                                              data["fee_cents"])
            if sess is None:
                raise SessionExistsError(field="period", date=data["date"].isoformat(), period=data["period"])
            s.add(AuditLog(actor_id=actor, action="create_session", target={"session_id": str(sess.id)}))
            out = self.session_view(sess)
        await self.slots.changed(sess.id, sess.remaining, sess.version)
        return out

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

    async def bulk_week(self, actor: str, data: dict[str, Any]) -> dict[str, Any]:
        week_start: date = data["week_start"]
        if week_start.weekday() != 0:
            raise InvalidDateError("week_start", "week_start 须为星期一。 week_start must be a Monday.")
        if _plus_days(week_start, 6, "week_start") < self.today():
            raise InvalidDateError("week_start", "该周已过去。 The week is in the past.")
        created, skipped = [], 0
        async with self.tx() as s:
            if await s.get(Doctor, data["doctor_id"]) is None:
                raise DoctorNotFoundError(details={"field": "doctor_id"})
            for slot in data["slots"]:
                day = week_start + timedelta(days=slot["weekday"])
                if day < self.today():
                    skipped += 1
                    continue
                sess = await self._insert_session(s, data["doctor_id"], day, slot["period"], data["capacity"],
                                                  data["fee_cents"])
                if sess is None:
                    skipped += 1
                else:
                    created.append(sess)
            s.add(AuditLog(actor_id=actor, action="bulk_week",
                           target={"doctor_id": str(data["doctor_id"]), "created": len(created)}))
        for sess in created:
            await self.slots.changed(sess.id, sess.remaining, sess.version)
        return {"created": [self.session_view(x) for x in created], "skipped": skipped}

    async def close_session(self, actor: str, session_id: uuid.UUID, reason: str) -> dict[str, Any]:
        """Close a session (停诊): its active bookings are cancelled, each patient gets a notification and a
        ``booking.cancelled.v1`` event (reason ``session_closed``), active holds are released."""
        async with self.tx() as s:
            ctx = await repo.session_with_context(s, session_id)
            if ctx is None:
                raise SessionNotFoundError()
            sess, doc, hosp = ctx
            # Lock order booking -> session, as cancel() does, so the two never deadlock.
            bookings = list((await s.execute(select(Booking).where(
                Booking.session_id == sess.id, Booking.status == "confirmed").with_for_update())).scalars())
            sess = (await s.execute(select(Session).where(Session.id == session_id).with_for_update()
                                    .execution_options(populate_existing=True))).scalar_one()
            if sess.status == "closed":
                return {"session": self.session_view(sess), "cancelled_bookings": 0}
            # A confirmation that committed before we got the session lock is included too.
            bookings = list((await s.execute(select(Booking).where(
                Booking.session_id == sess.id, Booking.status == "confirmed").with_for_update())).scalars())
            now = self.now()
            await s.execute(update(Hold).where(Hold.session_id == sess.id, Hold.status == "active")
                            .values(status="released"))
            sess.status = "closed"
            sess.closed_reason = reason
            sess.remaining = 0
            sess.version += 1
            for b in bookings:
                b.status = "cancelled"
                b.cancel_reason = "session_closed"
                b.cancelled_at = now
                await self.provider_for(hosp).cancel_booking(b.external_ref)
                s.add(Notification(user_id=b.user_id, booking_id=b.id, kind="session_closed",
                                   message=f"您预约的{hosp.name}{doc.name}医生{sess.date.isoformat()}"
                                           f"{_PERIOD_ZH[sess.period]}门诊已停诊（{reason}），预约已自动取消。"))
            await s.flush()
            for b in bookings:
                await add_event(s, BookingCancelledV1(user_id=b.user_id, booking_id=str(b.id),
                                                      session_id=str(sess.id), visit_date=sess.date,
                                                      reason="session_closed", remaining=0))
            s.add(AuditLog(actor_id=actor, action="close_session",
                           target={"session_id": str(sess.id), "cancelled": len(bookings)}))
            out = {"session": self.session_view(sess), "cancelled_bookings": len(bookings)}
        await self.slots.changed(sess.id, 0, sess.version, status="closed")
        return out

    async def sync_hospital(self, actor: str, hospital_id: uuid.UUID) -> dict[str, int]:
        """Pull a HIS hospital's doctors and sessions into our tables (upsert by the HIS's refs)."""
        async with self.tx() as s:
            hosp = await s.get(Hospital, hospital_id)
            if hosp is None:
                raise HospitalNotFoundError()
        schedule = await self.provider_for(hosp).sync_schedule()
        counts = {"doctors": 0, "sessions": 0, "skipped": 0}
        changed: list[Session] = []
        async with self.tx() as s:
            by_ref: dict[str, uuid.UUID] = {}
            for d in schedule.doctors:
                if d.get("department") not in self.departments or d.get("title") not in TITLES:
                    counts["skipped"] += 1
                    continue
                specialties = [str(x) for x in d.get("specialties", [])]
                values = dict(hospital_id=hosp.id, department_id=d["department"], name=str(d["name"])[:50],
                              title=d["title"], specialties=specialties, bio=str(d.get("bio", "")),
                              external_ref=str(d["ref"]),
                              search_tokens=document_tokens(str(d["name"]), specialties, str(d.get("bio", ""))))
                stmt = pg_insert(Doctor).values(id=uuid.uuid4(), **values)
                stmt = stmt.on_conflict_do_update(constraint="uq_doctor_external_ref",
                                                  set_={k: stmt.excluded[k] for k in values if k != "hospital_id"})
                by_ref[str(d["ref"])] = (await s.execute(stmt.returning(Doctor.id))).scalar_one()
                counts["doctors"] += 1
            for x in schedule.sessions:
                doc_id = by_ref.get(str(x.get("doctor_ref")))
                if doc_id is None or x.get("period") not in PERIODS:
                    counts["skipped"] += 1
                    continue
                day = date.fromisoformat(x["date"])
                cap, rem = int(x["capacity"]), max(0, int(x["remaining"]))
                existing = (await s.execute(select(Session).where(
                    Session.doctor_id == doc_id, Session.date == day, Session.period == x["period"])
                    .with_for_update())).scalar_one_or_none()
                if existing is None:
                    sess = await self._insert_session(s, doc_id, day, x["period"], cap, int(x["fee_cents"]),
                                                      external_ref=str(x["ref"]))
                    if sess is not None:
                        sess.remaining = min(cap, rem)
                        sess.version += 1
                        changed.append(sess)
                else:
                    held = (await s.execute(select(func.count()).select_from(Hold).where(
                        Hold.session_id == existing.id, Hold.status == "active"))).scalar_one()
                    existing.capacity = max(cap, 1)
                    existing.remaining = max(0, min(existing.capacity, rem - held))
                    existing.version += 1
                    existing.external_ref = str(x["ref"])
                    changed.append(existing)
                counts["sessions"] += 1
            await s.flush()
            s.add(AuditLog(actor_id=actor, action="sync_hospital", target={"hospital_id": str(hosp.id), **counts}))
        for sess in changed:
            await self.slots.changed(sess.id, sess.remaining, sess.version)
        return counts

    # ------------------------------------------------------------------ catalogue (patients)
    async def search(self, *, q: str | None, hospital: uuid.UUID | None, department: str | None, title: str | None,
                     date_from: date | None, date_to: date | None, available: bool, cursor: str | None,
                     limit: int) -> dict[str, Any]:
        if department:
            self.department(department, field="department")
        df = date_from or self.today()
        dt = date_to or _plus_days(df, self.settings.booking_horizon_days, "date_from")
        if dt < df:
            raise InvalidDateError("date_to", "date_to 不能早于 date_from。 date_to is before date_from.")
        cur = None
        if cursor:
            parts = _decode_cursor(cursor)
            try:
                cur = (str(parts[0]), int(parts[1]), str(uuid.UUID(parts[2])))
                float(cur[0])
            except (ValueError, IndexError, TypeError):
                raise InvalidCursorError("cursor") from None
        async with self.tx() as s:
            rows = await repo.search_doctors(s, tsquery=query_tsquery(q) if q else None, hospital=hospital,
                                             department=department, title=title, date_from=df, date_to=dt,
                                             available=available, cursor=cur, limit=limit + 1)
            page = rows[:limit]
            docs = {d.id: d for d in (await s.execute(select(Doctor).where(
                Doctor.id.in_([r[0] for r in page])))).scalars()} if page else {}
            hosps = {h.id: h for h in (await s.execute(select(Hospital).where(
                Hospital.id.in_({d.hospital_id for d in docs.values()})))).scalars()} if docs else {}
        items = []
        for did, rank, avail in page:
            d = docs[did]
            items.append({**self.doctor_view(d, hosps[d.hospital_id]), "relevance": rank, "available_slots": avail})
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = _encode_cursor([f"{last[1]:.6f}", last[2], str(last[0])])
        return {"items": items, "next_cursor": next_cursor}

    async def get_doctor(self, doctor_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            d = await s.get(Doctor, doctor_id)
            if d is None:
                raise DoctorNotFoundError()
            return self.doctor_view(d, await s.get(Hospital, d.hospital_id))

    async def doctor_sessions(self, doctor_id: uuid.UUID, date_from: date | None,
                              date_to: date | None) -> list[dict[str, Any]]:
        df = date_from or self.today()
        dt = date_to or _plus_days(df, self.settings.booking_horizon_days, "date_from")
        if dt < df:
            raise InvalidDateError("date_to", "date_to 不能早于 date_from。 date_to is before date_from.")
        async with self.tx() as s:
            if await s.get(Doctor, doctor_id) is None:
                raise DoctorNotFoundError()
            rows = list((await s.execute(select(Session).where(
                Session.doctor_id == doctor_id, Session.date >= df, Session.date <= dt)
                .order_by(Session.date, Session.period))).scalars())
        for sess in rows:  # the database read is the truth: heal any cache entry that drifted
            await self.slots.heal(sess.id, sess.remaining, sess.version, sess.status)
        return [self.session_view(x) for x in rows]

    async def session_state(self, session_id: uuid.UUID, *, cached: bool = True) -> dict[str, Any]:
        """The live count of one session: from the Redis cache when present, else Postgres (and fill the cache)."""
        if cached:
            hit = await self.slots.get(session_id)
            if hit is not None:
                return {"session_id": str(session_id), "remaining": hit[0], "version": hit[1], "source": "cache"}
        async with self.tx() as s:
            sess = await s.get(Session, session_id)
            if sess is None:
                raise SessionNotFoundError()
        await self.slots.heal(sess.id, sess.remaining, sess.version, sess.status)
        return {"session_id": str(sess.id), "remaining": sess.remaining, "version": sess.version,
                "status": sess.status, "source": "database"}

    async def get_session(self, session_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            sess = await s.get(Session, session_id)
            if sess is None:
                raise SessionNotFoundError()
        await self.slots.heal(sess.id, sess.remaining, sess.version, sess.status)
        return self.session_view(sess)

    async def session_fhir(self, session_id: uuid.UUID) -> dict[str, Any]:
        """The session as a FHIR Schedule plus one Slot per sequence number."""
        async with self.tx() as s:
            ctx = await repo.session_with_context(s, session_id)
            if ctx is None:
                raise SessionNotFoundError()
            sess, doc, hosp = ctx
            taken = set((await s.execute(select(Booking.seq_no).where(
                Booking.session_id == sess.id, Booking.status != "cancelled"))).scalars())
        windows = [self.window(sess, n) for n in range(1, sess.capacity + 1)]
        return fhir.schedule_bundle(self.session_view(sess), self.doctor_view(doc, hosp), taken, windows)

    async def booking_fhir(self, user_id: str, booking_id: uuid.UUID) -> dict[str, Any]:
        return fhir.appointment(await self.get_booking(user_id, booking_id))

    # ------------------------------------------------------------------ hold and confirm
    async def hold(self, user_id: str, session_id: uuid.UUID) -> dict[str, Any]:
        # Fast path for a rush: a cached count of 0 (written after the commit that took the last slot) answers
        # without touching Postgres. Anything else goes to Postgres, which alone decides who gets a slot.
        cached = await self.slots.gate(session_id)
        if cached is not None and cached[1] == "closed":
            raise SessionClosedError(source="live_count")
        if cached is not None and cached[0] == 0:
            raise SessionFullError(source="live_count")
        now = self.now()
        expires = now + timedelta(minutes=self.settings.hold_minutes)
        changed: list[tuple[uuid.UUID, int, int, str]] = []
        async with self.tx() as s:
            sess = await s.get(Session, session_id)
            if sess is None:
                raise SessionNotFoundError()
            self._check_bookable(sess)
            existing = (await s.execute(select(Hold).where(
                Hold.session_id == session_id, Hold.user_id == user_id, Hold.status == "active",
                Hold.expires_at > now))).scalar_one_or_none()
            if existing is not None:  # a double tap keeps the one hold
                return self.hold_view(existing, sess.remaining)
            taken = await repo.take_slot(s, session_id)
            if taken is None:
                # Full, unless holds have expired since the last sweep: take their slots back and try once more.
                freed = await repo.expire_holds(s, now, session_id)
                if freed:
                    changed.append((session_id, *await repo.give_back(s, session_id, freed[session_id])))
                    taken = await repo.take_slot(s, session_id)
            if taken is None:
                full = SessionFullError()
                latest = (await s.execute(select(Session.remaining, Session.version, Session.status)
                                          .where(Session.id == session_id))).one()
            else:
                full = None
                h = Hold(id=uuid.uuid4(), session_id=session_id, user_id=user_id, status="active",
                         expires_at=expires)
                s.add(h)
                try:
                    await s.flush()
                except IntegrityError:
                    raise ConflictError("该时段已有进行中的预留。 You already hold a slot in this session.",
                                        details={"field": "session_id"}) from None
                changed.append((session_id, taken[0], taken[1], "open"))
        for sid, rem, ver, status in changed:
            await self.slots.changed(sid, rem, ver, status)
        if full is not None:
            if not changed:  # the next attempt of a rush answers from the cache (kept only if newest)
                await self.slots.store(session_id, latest[0], latest[1], latest[2])
            raise full
        await self.slots.remember_hold(h.id, user_id, int((expires - now).total_seconds()))
        return self.hold_view(h, taken[0])

    async def release_hold(self, user_id: str, hold_id: uuid.UUID) -> None:
        async with self.tx() as s:
            h = (await s.execute(select(Hold).where(Hold.id == hold_id).with_for_update())).scalar_one_or_none()
            if h is None or h.user_id != user_id:
                raise HoldNotFoundError(details={"field": "hold_id"})
            if h.status != "active":
                raise HoldUsedError(field="hold_id", status=h.status)
            h.status = "released"
            rem, ver, status = await repo.give_back(s, h.session_id)
        await self.slots.forget_hold(hold_id)
        await self.slots.changed(h.session_id, rem, ver, status)

    async def sweep_expired_holds(self) -> int:
        """Give the slots of expired holds back (the background sweeper; hold() also sweeps its own session)."""
        changed = []
        async with self.tx() as s:
            freed = await repo.expire_holds(s, self.now())
            for sid, n in sorted(freed.items()):
                changed.append((sid, *await repo.give_back(s, sid, n)))
        for sid, rem, ver, status in changed:
            await self.slots.changed(sid, rem, ver, status)
        return sum(n for n in freed.values())

    async def confirm(self, user_id: str, hold_id: uuid.UUID, patient: PatientInput, idempotency_key: str | None,
                      canonical_body: bytes) -> tuple[int, dict[str, Any]]:
        """Hold -> booking. Returns (status code, body); a replayed Idempotency-Key returns the first answer."""
        today = self.today()
        id_number = normalize_id_number(patient.id_number, today=today)
        phone = normalize_phone(patient.phone)
        name = patient.name.strip()
        id_idx = self.vault.blind_index("id_number", id_number)
        request_mac = self.vault.mac(canonical_body)
        try:
            async with self.tx() as s:
                if idempotency_key:
                    claimed = (await s.execute(pg_insert(IdempotencyKey).values(
                        user_id=user_id, key=idempotency_key, request_mac=request_mac, status_code=0, response={})
                        .on_conflict_do_nothing().returning(IdempotencyKey.key))).first()
                    if claimed is None:
                        prior = await s.get(IdempotencyKey, (user_id, idempotency_key))
                        if prior.request_mac != request_mac:
                            raise IdempotencyKeyReusedError(details={"field": "Idempotency-Key"})
                        return prior.status_code, prior.response
                h = (await s.execute(select(Hold).where(Hold.id == hold_id).with_for_update())).scalar_one_or_none()
                if h is None or h.user_id != user_id:
                    raise HoldNotFoundError(details={"field": "hold_id"})
                if h.status in ("used", "released"):
                    raise HoldUsedError(field="hold_id", status=h.status)
                if h.status != "active" or h.expires_at <= self.now():
                    raise HoldExpiredError(field="hold_id")
                ctx = await repo.session_with_context(s, h.session_id)
                sess, doc, hosp = ctx
                self._check_bookable(sess)
                await repo.lock_patient(s, id_idx)
                await self._check_patient_rules(s, id_idx, sess)
                external_ref = await self.provider_for(hosp).forward_booking(
                    session_ref=sess.external_ref, request_id=str(h.id),
                    patient=PatientDetails(name=name, id_number=id_number, phone=phone))
                # Serialise confirmations of this session while the sequence number is chosen.
                sess = (await s.execute(select(Session).where(Session.id == sess.id).with_for_update())).scalar_one()
                seq = await repo.lowest_free_seq(s, sess.id, sess.capacity)
                if seq is None:
                    raise SessionFullError()
                sealed = self.vault.seal(name, id_number, phone)
                b = Booking(id=uuid.uuid4(), session_id=sess.id, hold_id=h.id, user_id=user_id, seq_no=seq,
                            status="confirmed", visit_date=sess.date, key_id=sealed.key_id, name_enc=sealed.name,
                            id_number_enc=sealed.id_number, phone_enc=sealed.phone, id_number_idx=id_idx,
                            phone_idx=self.vault.blind_index("phone", phone),
                            verify_code=f"{secrets.randbelow(10**8):08d}", external_ref=external_ref,
                            created_at=self.now())
                s.add(b)
                h.status = "used"
                await s.flush()
                ws, we = self.window(sess, seq)
                await add_event(s, BookingCreatedV1(
                    user_id=user_id, booking_id=str(b.id), session_id=str(sess.id), doctor_id=str(doc.id),
                    hospital_id=str(hosp.id), department_id=doc.department_id, visit_date=sess.date,
                    period=sess.period, window_start=ws, window_end=we, seq_no=seq, remaining=sess.remaining))
                body = self.booking_view(b, sess, doc, hosp)
                if idempotency_key:
                    await s.execute(update(IdempotencyKey).where(
                        IdempotencyKey.user_id == user_id, IdempotencyKey.key == idempotency_key)
                        .values(status_code=201, response=json.loads(json.dumps(body, default=str))))
        except HisSoldOut:
            await self._his_sold_out(hold_id)
            raise SessionFullError("医院系统显示该时段已约满。 The hospital's own system reports this session full.",
                                   source="his") from None
        await self.slots.forget_hold(hold_id)
        return 201, json.loads(json.dumps(body, default=str))

    async def _check_patient_rules(self, s: AsyncSession, id_idx: str, sess: Session) -> None:
        cfg = self.settings
        since = self.today() - timedelta(days=cfg.no_show_window_days)
        misses = await repo.no_shows_since(s, id_idx, since)
        if len(misses) >= cfg.no_show_ban_threshold:
            until = misses[-1] + timedelta(days=cfg.no_show_ban_days)
            if self.today() < until:
                raise NoShowBanError(field="patient.id_number", no_shows=len(misses), banned_until=until.isoformat())
        if cfg.one_per_doctor_per_session and await repo.patient_has_booking_in_session(s, id_idx, sess.id):
            raise DuplicateBookingError(field="patient.id_number")
        if await repo.active_bookings_on_day(s, id_idx, sess.date) >= cfg.daily_cap:
            raise DailyCapError(field="patient.id_number", daily_cap=cfg.daily_cap)

    async def _his_sold_out(self, hold_id: uuid.UUID) -> None:
        """The HIS sold the slot we held: release the hold and trust the HIS that nothing is left."""
        async with self.tx() as s:
            h = (await s.execute(select(Hold).where(Hold.id == hold_id).with_for_update())).scalar_one()
            if h.status == "active":
                h.status = "released"
            sess = (await s.execute(select(Session).where(Session.id == h.session_id).with_for_update())).scalar_one()
            sess.remaining = 0
            sess.version += 1
            sid, ver = sess.id, sess.version
        await self.slots.forget_hold(hold_id)
        await self.slots.changed(sid, 0, ver)

    # ------------------------------------------------------------------ bookings of a user
    async def _owned(self, s: AsyncSession, user_id: str, booking_id: uuid.UUID, lock: bool = False) -> Booking:
        q = select(Booking).where(Booking.id == booking_id, Booking.user_id == user_id)
        if lock:
            q = q.with_for_update()
        b = (await s.execute(q)).scalar_one_or_none()
        if b is None:
            raise BookingNotFoundError()
        return b

    async def cancel(self, user_id: str, booking_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            b = await self._owned(s, user_id, booking_id, lock=True)
            if b.status != "confirmed":
                raise BookingNotActiveError(field="booking_id", status=b.status)
            deadline = self.cancel_deadline(b.visit_date)
            if self.now() >= deadline:
                raise CancelDeadlinePassedError(field="booking_id", deadline=deadline.isoformat())
            sess, doc, hosp = await repo.session_with_context(s, b.session_id)
            await self.provider_for(hosp).cancel_booking(b.external_ref)
            b.status = "cancelled"
            b.cancel_reason = "patient"
            b.cancelled_at = self.now()
            rem, ver, status = await repo.give_back(s, sess.id)
            await s.flush()
            await add_event(s, BookingCancelledV1(user_id=user_id, booking_id=str(b.id), session_id=str(sess.id),
                                                  visit_date=b.visit_date, reason="patient", remaining=rem))
            out = self.booking_view(b, sess, doc, hosp)
        await self.slots.changed(sess.id, rem, ver, status)
        return out

    async def list_bookings(self, user_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        async with self.tx() as s:
            q = select(Booking).where(Booking.user_id == user_id)
            if cursor:
                parts = _decode_cursor(cursor)
                try:
                    at, bid = datetime.fromisoformat(parts[0]), uuid.UUID(parts[1])
                except (ValueError, IndexError, TypeError):
                    raise InvalidCursorError("cursor") from None
                q = q.where(tuple_(Booking.created_at, Booking.id) < tuple_(at, bid))
            rows = list((await s.execute(q.order_by(Booking.created_at.desc(), Booking.id.desc())
                                         .limit(limit + 1))).scalars())
            page = rows[:limit]
            items = [await self._view_of(s, b) for b in page]
        nxt = _encode_cursor([page[-1].created_at.isoformat(), str(page[-1].id)]) if len(rows) > limit else None
        return {"items": items, "next_cursor": nxt}

    async def _view_of(self, s: AsyncSession, b: Booking) -> dict[str, Any]:
        sess, doc, hosp = await repo.session_with_context(s, b.session_id)
        return self.booking_view(b, sess, doc, hosp)

    async def get_booking(self, user_id: str, booking_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            return await self._view_of(s, await self._owned(s, user_id, booking_id))

    async def voucher(self, user_id: str, booking_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            b = await self._owned(s, user_id, booking_id)
            if b.status == "cancelled":
                raise BookingNotActiveError(field="booking_id", status=b.status)
            sess, doc, hosp = await repo.session_with_context(s, b.session_id)
        ws, we = self.window(sess, b.seq_no)
        dep = self.departments.get(doc.department_id)
        return {
            "booking_id": str(b.id), "hospital": hosp.name, "hospital_address": hosp.address,
            "department": dep.name if dep else doc.department_id, "department_id": doc.department_id,
            "doctor": doc.name, "doctor_title": doc.title, "date": sess.date.isoformat(), "period": sess.period,
            "window_start": ws, "window_end": we, "seq_no": b.seq_no, "verify_code": b.verify_code,
            "fee_cents": sess.fee_cents, "patient": self._masked_patient(b), "status": b.status,
            "qr_payload": self.qr_payload(b),
        }

    @staticmethod
    def qr_payload(b: Booking) -> str:
        return f"ZHENXI-BOOKING:{b.id}:{b.verify_code}"

    @staticmethod
    def qr_png(payload: str) -> bytes:
        buf = io.BytesIO()
        segno.make(payload, error="m").save(buf, kind="png", scale=6, border=2)
        return buf.getvalue()

    async def notifications(self, user_id: str) -> list[dict[str, Any]]:
        async with self.tx() as s:
            rows = (await s.execute(select(Notification).where(Notification.user_id == user_id)
                                    .order_by(Notification.created_at.desc()).limit(100))).scalars()
            return [{"id": str(n.id), "booking_id": str(n.booking_id), "kind": n.kind, "message": n.message,
                     "created_at": n.created_at} for n in rows]

    # ------------------------------------------------------------------ admin
    async def mark_no_show(self, actor: str, booking_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            b = (await s.execute(select(Booking).where(Booking.id == booking_id).with_for_update())).scalar_one_or_none()
            if b is None:
                raise BookingNotFoundError()
            if b.status != "confirmed":
                raise BookingNotActiveError(field="booking_id", status=b.status)
            if b.visit_date > self.today():
                raise InvalidDateError("booking_id", "就诊日尚未到。 The visit day has not come yet.")
            b.status = "no_show"
            s.add(AuditLog(actor_id=actor, action="mark_no_show", target={"booking_id": str(b.id)}))
            return await self._view_of(s, b)

    async def admin_lookup(self, actor: str, *, id_number: str | None, phone: str | None) -> list[dict[str, Any]]:
        """Find bookings by ID number or phone through the blind index; the look-up is audited."""
        if id_number:
            idx, field = self.vault.blind_index("id_number", normalize_id_number(
                id_number, today=self.today(), field="id_number")), "id_number"
            cond = Booking.id_number_idx == idx
        else:
            idx, field = self.vault.blind_index("phone", normalize_phone(phone or "", field="phone")), "phone"
            cond = Booking.phone_idx == idx
        async with self.tx() as s:
            rows = list((await s.execute(select(Booking).where(cond).order_by(Booking.created_at.desc())
                                         .limit(100))).scalars())
            items = [await self._view_of(s, b) for b in rows]
            s.add(AuditLog(actor_id=actor, action=f"lookup_by_{field}",
                           target={"booking_ids": [str(b.id) for b in rows],
                                   "patient_user_ids": sorted({b.user_id for b in rows})}))
        return items

    async def admin_get_booking(self, actor: str, booking_id: uuid.UUID) -> dict[str, Any]:
        async with self.tx() as s:
            b = await s.get(Booking, booking_id)
            if b is None:
                raise BookingNotFoundError()
            s.add(AuditLog(actor_id=actor, action="view_booking",
                           target={"booking_id": str(b.id), "patient_user_id": b.user_id}))
            return await self._view_of(s, b)

    async def audit_log(self, limit: int) -> list[dict[str, Any]]:
        async with self.tx() as s:
            rows = (await s.execute(select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id)
                                    .limit(limit))).scalars()
            return [{"id": str(a.id), "actor_id": a.actor_id, "action": a.action, "target": a.target,
                     "created_at": a.created_at} for a in rows]

    async def stats(self, date_from: date, date_to: date) -> dict[str, Any]:
        if date_to < date_from:
            raise InvalidDateError("date_to", "date_to 不能早于 date_from。 date_to is before date_from.")
        async with self.tx() as s:
            rows = (await s.execute(text(
                "SELECT d.department_id, b.visit_date, count(*) AS total, "
                "count(*) FILTER (WHERE b.status = 'cancelled') AS cancelled, "
                "count(*) FILTER (WHERE b.status = 'no_show') AS no_show "
                "FROM booking.bookings b JOIN booking.sessions s ON s.id = b.session_id "
                "JOIN booking.doctors d ON d.id = s.doctor_id "
                "WHERE b.visit_date BETWEEN :a AND :b GROUP BY 1, 2 ORDER BY 2, 1"),
                {"a": date_from, "b": date_to})).all()
        total = sum(r.total for r in rows)
        cancelled = sum(r.cancelled for r in rows)
        no_show = sum(r.no_show for r in rows)
        kept = total - cancelled
        return {
            "per_department_day": [{"department_id": r.department_id, "date": r.visit_date.isoformat(),
                                    "bookings": r.total, "cancelled": r.cancelled, "no_show": r.no_show}
                                   for r in rows],
            "total": total, "cancelled": cancelled, "no_show": no_show,
            "cancellation_rate": round(cancelled / total, 4) if total else 0.0,
            "no_show_rate": round(no_show / kept, 4) if kept else 0.0,
        }

    # ------------------------------------------------------------------ views (masked, never plaintext)
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
