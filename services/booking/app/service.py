"""The booking flow: hold -> confirm (ID number, mobile, rules, Idempotency-Key) -> voucher -> cancel, the hold
sweeper and a user's history. ``BookingService`` is the one facade the API and the app hold (catalogue and admin
use cases come from their own modules). No FastAPI here."""
from __future__ import annotations

import asyncio
import io
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

import segno
from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.errors import ConflictError
from zhenxi_common.events import BookingCancelledV1, BookingCreatedV1
from zhenxi_common.outbox import add_event

from . import fhir
from . import repository as repo
from .admin import AdminService
from .base import PatientInput, _decode_cursor, _encode_cursor, retry_deadlocks
from .catalogue import CatalogueService
from .errors import (BookingNotActiveError, CancelDeadlinePassedError, DailyCapError, DuplicateBookingError,
                     HoldExpiredError, HoldNotFoundError, HoldUsedError, IdempotencyKeyReusedError, InvalidCursorError,
                     NoShowBanError, SessionClosedError, SessionFullError, SessionNotFoundError)
from .models import Booking, Hold, IdempotencyKey, Notification, Session
from .personal_data import normalize_id_number, normalize_phone
from .providers import HisSoldOut, PatientDetails


__all__ = ["BookingService", "PatientInput"]


_TURN_HELD: ContextVar[str | None] = ContextVar("booking_hold_turn_held", default=None)


class _Gate:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class BookingService(CatalogueService, AdminService):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hold_gates: dict[str, _Gate] = {}

    async def booking_fhir(self, user_id: str, booking_id: uuid.UUID) -> dict[str, Any]:
        return fhir.appointment(await self.get_booking(user_id, booking_id))

    async def cached_refusal(self, session_id: uuid.UUID | str, user_id: str
                             ) -> SessionClosedError | SessionFullError | None:
        """The rush fast path (also taken by the API's fast lane before any request parsing): a cached count of 0
        (written after the commit that took the last slot) or a cached ``closed`` refuses a hold attempt without
        touching Postgres. Anything else (a miss, a free slot, Redis down) returns None and goes to Postgres,
        which alone decides who gets a slot. A user who already holds a slot here goes on to Postgres too, which
        hands back their hold (double tap)."""
        cached = await self.slots.gate(session_id, user_id)
        if cached is None:
            return None
        remaining, status, holds = cached
        if status == "closed":
            return SessionClosedError(source="live_count")
        if remaining == 0 and not holds:
            return SessionFullError(source="live_count")
        return None

    @asynccontextmanager
    async def hold_turn(self, session_id: uuid.UUID | str) -> AsyncIterator[bool]:
        """This process's hold attempts on one session go to Postgres one at a time; yields whether this one had
        to wait. Postgres serialises them anyway (the conditional update locks the session row until commit), so
        little concurrency is lost, and an attempt that waited re-reads the live count first: once the last slot
        is gone, the attempts queued behind it are refused from Redis instead of each running a transaction that
        can only fail. Correctness never depends on this lock: it is per process, and Postgres decides.
        The API's rush lane takes the turn before the request is routed; ``hold()`` then finds it held (a context
        variable of the request's task) and does not wait again."""
        key = str(session_id).lower()
        if _TURN_HELD.get() == key:
            yield False
            return
        gate = self._hold_gates.get(key)
        if gate is None:
            gate = self._hold_gates[key] = _Gate()
        gate.users += 1
        waited = gate.lock.locked()
        try:
            async with gate.lock:
                token = _TURN_HELD.set(key)
                try:
                    yield waited
                finally:
                    _TURN_HELD.reset(token)
        finally:
            gate.users -= 1
            if gate.users == 0:
                self._hold_gates.pop(key, None)

    async def hold(self, user_id: str, session_id: uuid.UUID) -> dict[str, Any]:
        refusal = await self.cached_refusal(session_id, user_id)
        if refusal is not None:
            raise refusal
        async with self.hold_turn(session_id) as waited:
            if waited and (refusal := await self.cached_refusal(session_id, user_id)) is not None:
                raise refusal
            return await self._hold_in_postgres(user_id, session_id)

    async def _hold_in_postgres(self, user_id: str, session_id: uuid.UUID) -> dict[str, Any]:
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
        await self.slots.remember_hold(h.id, session_id, user_id, int((expires - now).total_seconds()))
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
        await self.slots.forget_hold(hold_id, h.session_id, user_id)
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

    @retry_deadlocks
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
                body = json.loads(json.dumps(self.booking_view(b, sess, doc, hosp), default=str))
                if idempotency_key:
                    await s.execute(update(IdempotencyKey).where(
                        IdempotencyKey.user_id == user_id, IdempotencyKey.key == idempotency_key)
                        .values(status_code=201, response=body))
        except HisSoldOut:
            await self._his_sold_out(hold_id, user_id)
            raise SessionFullError("医院系统显示该时段已约满。 The hospital's own system reports this session full.",
                                   source="his") from None
        await self.slots.forget_hold(hold_id, sess.id, user_id)
        return 201, body

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

    async def _his_sold_out(self, hold_id: uuid.UUID, user_id: str) -> None:
        """The HIS sold the slot we held: release the hold and trust the HIS that nothing is left."""
        async with self.tx() as s:
            h = (await s.execute(select(Hold).where(Hold.id == hold_id).with_for_update())).scalar_one()
            if h.status == "active":
                h.status = "released"
            sess = (await s.execute(select(Session).where(Session.id == h.session_id).with_for_update())).scalar_one()
            sess.remaining = 0
            sess.version += 1
            sid, ver = sess.id, sess.version
        await self.slots.forget_hold(hold_id, sid, user_id)
        await self.slots.changed(sid, 0, ver)

    @retry_deadlocks
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
