"""Catalogue use cases: hospitals, doctors and sessions (admin), HIS schedule sync, doctor search, sessions with
live counts, FHIR views of a session."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from zhenxi_common.errors import ConflictError

from . import fhir
from . import repository as repo
from .base import PERIODS, TITLES, ServiceBase, _decode_cursor, _encode_cursor, _plus_days
from .errors import (DoctorNotFoundError, HospitalNotFoundError, InvalidCursorError, InvalidDateError,
                     SessionExistsError, SessionNotFoundError)
from .models import AuditLog, Booking, Doctor, Hold, Hospital, Session
from .search_text import document_tokens, query_tsquery


class CatalogueService(ServiceBase):
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
