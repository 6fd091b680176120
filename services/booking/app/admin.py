"""Admin use cases: closing a session (its patients are notified), no-shows, audited look-ups by the blind index,
the audit log and statistics."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select, text, update

from zhenxi_common.events import BookingCancelledV1
from zhenxi_common.outbox import add_event

from . import repository as repo
from .base import _PERIOD_ZH, ServiceBase, retry_deadlocks
from .errors import BookingNotActiveError, BookingNotFoundError, InvalidDateError, SessionNotFoundError
from .models import AuditLog, Booking, Hold, Notification, Session
from .personal_data import normalize_id_number, normalize_phone


class AdminService(ServiceBase):
    @retry_deadlocks
    async def close_session(self, actor: str, session_id: uuid.UUID, reason: str) -> dict[str, Any]:
        """Close a session (停诊): its active bookings are cancelled, each patient gets a notification and a
        ``booking.cancelled.v1`` event (reason ``session_closed``), active holds are released."""
        async with self.tx() as s:
            ctx = await repo.session_with_context(s, session_id)
            if ctx is None:
                raise SessionNotFoundError()
            sess, doc, hosp = ctx
            # Lock order booking -> hold -> session, as cancel() (booking -> session) and confirm() (hold ->
            # session) take theirs; a deadlock in the narrow remaining windows is retried (see retry_deadlocks).
            bookings = list((await s.execute(select(Booking).where(
                Booking.session_id == sess.id, Booking.status == "confirmed").with_for_update())).scalars())
            await s.execute(update(Hold).where(Hold.session_id == sess.id, Hold.status == "active")
                            .values(status="released"))
            sess = (await s.execute(select(Session).where(Session.id == session_id).with_for_update()
                                    .execution_options(populate_existing=True))).scalar_one()
            if sess.status == "closed":
                return {"session": self.session_view(sess), "cancelled_bookings": 0}
            # A confirmation that committed before we got the session lock is included too.
            bookings = list((await s.execute(select(Booking).where(
                Booking.session_id == sess.id, Booking.status == "confirmed").with_for_update())).scalars())
            now = self.now()
            await s.execute(update(Hold).where(Hold.session_id == sess.id, Hold.status == "active")
                            .values(status="released"))   # holds taken while we waited for the session lock
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
