"""The reminders domain: plans and their expansion, the adherence ledger, missed-dose advice, statistics,
refill forecasts, devices, consents, sync and backup. No FastAPI here; repositories only flush."""
from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.errors import InvalidDateRangeError
from zhenxi_common.events import DoseRecordedV1, PlanChangedV1
from zhenxi_common.outbox import add_event

from . import repository as repo
from .config import Settings
from .crypto import FieldCipher
from .errors import (AlreadyRecordedError, EndBeforeStartError, ConsentNotFoundError, ConsentRequiredError, DeviceNotFoundError,
                     FieldError, ImportInvalidError, NotRecordableError, OccurrenceNotFoundError,
                     PlanInPastError, PlanNotFoundError, PrnTooSoonError,
                     VersionConflictError, WebhookHostNotAllowedError)
from .knowledge import UNMATCHED, DrugBook
from .models import Consent, Device, Occurrence, Plan
from .schedules import doses_per_day, expand, interval_hours
from .schemas import (AdherenceDay, AdherenceOut, AdherenceStats, AdviceOut, Caregiver, ConsentOut, DeliveryOut,
                      DeviceOut, DrugHistory, DrugOut, MealTimes, OccurrenceOut, PlanCreate, PlanOut, PlanPatch, RecordIn, RefillOut,
                      Schedule, Streak)

# Fields whose change re-expands the future occurrences.
_RESCHEDULE = {"timezone", "start_date", "end_date", "total_count", "schedule", "meal_times", "active"}
_PLAN_FIELDS = ("drug", "dose", "unit", "route", "notes", "timezone", "start_date", "end_date", "total_count",
                "schedule", "meal_times", "stock", "refill_days_ahead", "caregiver", "caregiver_after_min", "active")


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_webhook_url(url: str, allowed: list[str], field: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookHostNotAllowedError(field, "网址必须是 http(s) 地址。 The URL must be an http(s) URL.")
    if host not in {h.lower() for h in allowed}:
        raise WebhookHostNotAllowedError(field, host=host)
    return url


MAX_STATS_DAYS = 366
DECIDED = ("taken", "taken_late", "skipped", "missed")
RECORDED = ("taken", "taken_late", "skipped")     # the patient said what happened (not the automatic "missed")


def _share(taken: int, decided: int) -> float | None:
    return round(taken / decided, 4) if decided else None


@dataclass
class Reminders:
    settings: Settings
    cipher: FieldCipher
    drugs: DrugBook

    # ---- plans ---------------------------------------------------------------------------------------------
    def allowed_hosts(self) -> list[str]:
        hosts = list(self.settings.webhook_allowed_hosts)
        if self.settings.env in ("dev", "test"):
            hosts += ["127.0.0.1", "localhost"]
        return hosts

    def plan_out(self, plan: Plan) -> PlanOut:
        schedule = Schedule.model_validate(plan.schedule)
        meals = MealTimes.model_validate(plan.meal_times)
        cg = self.cipher.decrypt(plan.caregiver_enc)
        drug_text = self.cipher.decrypt(plan.drug_enc) or ""
        match = self.drugs.find_drug(drug_text) if plan.drug_id else None
        return PlanOut(
            id=plan.id, version=plan.version,
            drug=DrugOut(text=drug_text, id=plan.drug_id, name=match.name if match else None,
                         class_id=plan.drug_class, class_name=match.class_name if match else None),
            dose=plan.dose, unit=plan.unit, route=plan.route, notes=self.cipher.decrypt(plan.notes_enc),
            timezone=plan.timezone, start_date=plan.start_date, end_date=plan.end_date,
            total_count=plan.total_count, schedule=schedule, meal_times=meals, stock=plan.stock,
            refill_days_ahead=plan.refill_days_ahead,
            caregiver=Caregiver.model_validate_json(cg) if cg else None,
            caregiver_after_min=plan.caregiver_after_min, active=plan.active, refill=self.refill(plan, utcnow()),
            created_at=plan.created_at, updated_at=plan.updated_at)

    def _apply(self, plan: Plan, field: str, value: Any) -> None:
        if field == "drug":
            plan.drug_enc = self.cipher.encrypt(value)
            match = self.drugs.find_drug(value)
            plan.drug_id, plan.drug_class = (match.id, match.class_id) if match else (None, None)
        elif field == "notes":
            plan.notes_enc = self.cipher.encrypt(value)
        elif field == "caregiver":
            if value is not None:
                check_webhook_url(value.webhook_url, self.allowed_hosts(), "caregiver.webhook_url")
            plan.caregiver_enc = self.cipher.encrypt(value.model_dump_json()) if value is not None else None
        elif field in ("schedule", "meal_times"):
            setattr(plan, field, value.model_dump(mode="json"))
        else:
            setattr(plan, field, value)

    async def create_plan(self, session: AsyncSession, user_id: str, body: PlanCreate,
                          plan_id: uuid.UUID | None = None, now: datetime | None = None,
                          allow_past: bool = False) -> Plan:
        now = now or utcnow()
        plan = Plan(id=plan_id or uuid.uuid4(), user_id=user_id, version=1, field_versions={}, active=True,
                    created_at=now, updated_at=now)
        for field in _PLAN_FIELDS:
            if field in type(body).model_fields and field != "active":
                self._apply(plan, field, getattr(body, field))
        plan.field_versions = {f: 1 for f in _PLAN_FIELDS}
        session.add(plan)
        await session.flush()
        added = await self._expand(session, plan, now, reset=False)
        if not added and not allow_past and not self._any_future(plan, now):
            self._raise_in_past(plan, now)
        await self._refill_reminder(session, plan, now)
        await repo.log_change(session, user_id, "plan", plan.id, plan.version)
        await add_event(session, PlanChangedV1(user_id=user_id, plan_id=str(plan.id), version=plan.version,
                                               change="created", drug_id=plan.drug_id, drug_class=plan.drug_class))
        return plan

    def _any_future(self, plan: Plan, now: datetime) -> bool:
        """Whether the plan has a dose at or after ``now`` at all (beyond the stored horizon too)."""
        schedule = Schedule.model_validate(plan.schedule)
        if schedule.kind == "prn":
            return plan.end_date is None or plan.end_date >= now.astimezone(ZoneInfo(plan.timezone)).date()
        return bool(expand(schedule, MealTimes.model_validate(plan.meal_times), plan.timezone, plan.start_date,
                           plan.end_date, plan.total_count, now, datetime(9000, 1, 1, tzinfo=UTC),
                           anchor_utc=self._anchor(plan, schedule), limit=1))

    def _raise_in_past(self, plan: Plan, now: datetime) -> None:
        schedule = Schedule.model_validate(plan.schedule)
        if schedule.kind == "once":
            raise PlanInPastError("schedule.at")
        if plan.end_date is not None:
            raise PlanInPastError("end_date")
        if plan.total_count is not None:
            raise PlanInPastError("total_count")
        raise PlanInPastError("schedule")

    async def _expand(self, session: AsyncSession, plan: Plan, now: datetime, reset: bool,
                      anchor: datetime | None = None) -> int:
        """(Re)store the plan's occurrences from now to the horizon; ``reset`` first drops unsent future ones."""
        if reset:
            await repo.drop_future_unsent(session, plan.id, now)
        if not plan.active or plan.deleted_at is not None:
            plan.expanded_until = None
            return 0
        horizon = now + timedelta(days=self.settings.horizon_days)
        schedule = Schedule.model_validate(plan.schedule)
        dues = expand(schedule, MealTimes.model_validate(plan.meal_times), plan.timezone, plan.start_date,
                      plan.end_date, plan.total_count, now, horizon, anchor_utc=anchor or self._anchor(plan, schedule))
        plan.expanded_until = horizon
        return await repo.insert_occurrences(session, plan, dues)

    def _anchor(self, plan: Plan, schedule: Schedule) -> datetime | None:
        return plan.anchor_at if schedule.kind == "interval" else None

    async def top_up(self, session: AsyncSession, plan: Plan, now: datetime) -> int:
        """Extend the plan's stored occurrences to the rolling horizon (called by the scheduler)."""
        if not plan.active or plan.deleted_at is not None:
            return 0
        horizon = now + timedelta(days=self.settings.horizon_days)
        start = max(plan.expanded_until or now, now)
        schedule = Schedule.model_validate(plan.schedule)
        dues = expand(schedule, MealTimes.model_validate(plan.meal_times), plan.timezone, plan.start_date,
                      plan.end_date, plan.total_count, start, horizon, anchor_utc=self._anchor(plan, schedule))
        plan.expanded_until = horizon
        return await repo.insert_occurrences(session, plan, dues)

    async def get_plan(self, session: AsyncSession, user_id: str, plan_id: uuid.UUID, lock: bool = False) -> Plan:
        plan = await repo.get_plan(session, user_id, plan_id, lock=lock)
        if plan is None:
            raise PlanNotFoundError()
        return plan

    async def patch_plan(self, session: AsyncSession, user_id: str, plan_id: uuid.UUID, body: PlanPatch,
                         if_match: int | None, now: datetime | None = None) -> Plan:
        now = now or utcnow()
        plan = await self.get_plan(session, user_id, plan_id, lock=True)
        changed = body.model_fields_set
        if if_match is not None and if_match != plan.version:
            # Stale base: merge when nobody else touched the fields this write changes.
            clash = sorted(f for f in changed if plan.field_versions.get(f, 1) > if_match)
            if clash or if_match > plan.version:
                raise VersionConflictError(details={"current": self.plan_out(plan).model_dump(mode="json"),
                                                    "conflicting_fields": clash})
        if "end_date" in changed or "start_date" in changed:
            start = body.start_date if "start_date" in changed else plan.start_date
            end = body.end_date if "end_date" in changed else plan.end_date
            if start is None:
                raise FieldError("start_date", "start_date 不能为空。 start_date cannot be null.")
            if end is not None and end < start:
                raise EndBeforeStartError("end_date")
        for field in changed:
            value = getattr(body, field)
            if value is None and field in ("drug", "dose", "unit", "route", "timezone", "schedule", "meal_times",
                                           "active"):
                raise FieldError(field, f"{field} 不能为空。 {field} cannot be null.")
            self._apply(plan, field, value)
        plan.version += 1
        plan.field_versions = {**plan.field_versions, **{f: plan.version for f in changed}}
        plan.updated_at = now
        if changed & _RESCHEDULE:
            if "schedule" in changed:
                plan.anchor_at = None
            added = await self._expand(session, plan, now, reset=True)
            if not added and plan.active and not await self._has_future(session, plan, now) \
                    and not self._any_future(plan, now):
                self._raise_in_past(plan, now)
        await self._refill_reminder(session, plan, now)
        await repo.log_change(session, user_id, "plan", plan.id, plan.version)
        await add_event(session, PlanChangedV1(user_id=user_id, plan_id=str(plan.id), version=plan.version,
                                               change="updated", drug_id=plan.drug_id, drug_class=plan.drug_class))
        return plan

    async def _has_future(self, session: AsyncSession, plan: Plan, now: datetime) -> bool:
        return await repo.next_occurrence(session, plan.id, now) is not None

    async def delete_plan(self, session: AsyncSession, user_id: str, plan_id: uuid.UUID, if_match: int | None,
                          now: datetime | None = None) -> None:
        now = now or utcnow()
        plan = await self.get_plan(session, user_id, plan_id, lock=True)
        if if_match is not None and if_match != plan.version:
            raise VersionConflictError(details={"current": self.plan_out(plan).model_dump(mode="json")})
        plan.deleted_at = now
        plan.active = False
        plan.version += 1
        await repo.drop_future_unsent(session, plan.id, now)
        await repo.drop_future_unsent(session, plan.id, now, kind="refill")
        await session.execute(update(Occurrence).where(Occurrence.plan_id == plan.id,
                                                       Occurrence.next_fire_at.is_not(None))
                              .values(next_fire_at=None))
        await repo.withdraw_staged_for_plan(session, plan.id, now)
        await repo.log_change(session, user_id, "plan", plan.id, plan.version, deleted=True)
        await add_event(session, PlanChangedV1(user_id=user_id, plan_id=str(plan.id), version=plan.version,
                                               change="deleted", drug_id=plan.drug_id, drug_class=plan.drug_class))

    # ---- refill ------------------------------------------------------------------------------------------------
    def refill(self, plan: Plan, now: datetime) -> RefillOut:
        per_day = doses_per_day(Schedule.model_validate(plan.schedule), MealTimes.model_validate(plan.meal_times))
        if plan.stock is None or not per_day:
            return RefillOut(stock=plan.stock, doses_per_day=per_day, days_left=None, runs_out_on=None,
                             remind_on=None)
        days_left = plan.stock / (per_day * plan.dose)
        today = now.astimezone(ZoneInfo(plan.timezone)).date()
        runs_out = today + timedelta(days=math.floor(days_left))
        ahead = plan.refill_days_ahead if plan.refill_days_ahead is not None else self.settings.refill_days_ahead
        return RefillOut(stock=plan.stock, doses_per_day=round(per_day, 3), days_left=round(days_left, 2),
                         runs_out_on=runs_out, remind_on=max(today, runs_out - timedelta(days=ahead)))

    async def _refill_reminder(self, session: AsyncSession, plan: Plan, now: datetime) -> None:
        """Keep one pending refill reminder per plan, on the day the forecast says (09:00 local, or now)."""
        await repo.drop_future_unsent(session, plan.id, now - timedelta(days=3660), kind="refill")
        fc = self.refill(plan, now)
        if fc.remind_on is None or not plan.active or plan.deleted_at is not None:
            return
        zone = ZoneInfo(plan.timezone)
        at = datetime.combine(fc.remind_on, time(9, 0), tzinfo=zone).astimezone(UTC)
        await repo.insert_reminder(session, user_id=plan.user_id, kind="refill", plan_id=plan.id,
                                   source_key=f"refill:{plan.id}:{fc.runs_out_on}:{plan.stock}",
                                   due_at=max(at, now), local_date=fc.remind_on)

    # ---- occurrences and the ledger -----------------------------------------------------------------------------
    def occurrence_out(self, occ: Occurrence, deliveries: list | None = None) -> OccurrenceOut:
        return OccurrenceOut(id=occ.id, plan_id=occ.plan_id, kind=occ.kind, due_at=occ.due_at,
                             local_date=occ.local_date, state=occ.state, version=occ.version,
                             fire_count=occ.fire_count, taken_at=occ.taken_at, recorded_at=occ.recorded_at,
                             deliveries=[DeliveryOut(id=d.id, attempt=d.attempt, channel=d.channel,
                                                     device_id=d.device_id if d.device_id and d.device_id.int else None,
                                                     status=d.status, detail=d.detail, created_at=d.created_at)
                                         for d in deliveries or []])

    async def get_occurrence(self, session: AsyncSession, user_id: str, occ_id: uuid.UUID,
                             lock: bool = False) -> Occurrence:
        occ = await repo.get_occurrence(session, user_id, occ_id, lock=lock)
        if occ is None:
            raise OccurrenceNotFoundError()
        return occ

    async def record(self, session: AsyncSession, user_id: str, occ_id: uuid.UUID, body: RecordIn,
                     if_match: int | None, now: datetime | None = None) -> tuple[Occurrence, bool]:
        """Record a dose taken or skipped. Returns (occurrence, changed); replaying the same record changes
        nothing. A missed dose can still be recorded taken (late); other recorded states need If-Match."""
        now = now or utcnow()
        occ = await self.get_occurrence(session, user_id, occ_id, lock=True)
        if occ.kind != "dose" or occ.plan_id is None:
            raise NotRecordableError("id")
        at = (body.at or now).astimezone(UTC)
        if at > now + timedelta(minutes=5):
            raise FieldError("at", "服药时间不能在将来。 'at' cannot be in the future.")
        if at < occ.due_at - timedelta(hours=24):
            raise FieldError("at", "服药时间比计划时间早了一天以上。 'at' is more than a day before the dose was due.")
        if body.state == "taken":
            state = "taken" if at <= occ.due_at + timedelta(minutes=self.settings.late_after_min) else "taken_late"
        else:
            state = "skipped"
        taken_at = at if body.state == "taken" else None
        same_kind = occ.state == state or (body.state == "taken" and occ.state in ("taken", "taken_late"))
        if same_kind and (body.at is None or occ.taken_at == taken_at):
            return occ, False   # a replay (also one retried later, which would otherwise read as late)
        if occ.state in RECORDED and if_match != occ.version:
            raise AlreadyRecordedError(details={"current": self.occurrence_out(occ).model_dump(mode="json")})
        plan = await repo.get_plan(session, user_id, occ.plan_id, lock=True, include_deleted=True)
        assert plan is not None
        was_taken = occ.state in ("taken", "taken_late")
        occ.state, occ.taken_at, occ.recorded_at = state, taken_at, now
        occ.next_fire_at = None
        if occ.fire_count:
            await repo.withdraw_staged(session, occ, now)
        occ.version += 1
        occ.updated_at = now
        if plan.stock is not None and was_taken != (state in ("taken", "taken_late")):
            plan.stock = max(0.0, plan.stock + (plan.dose if was_taken else -plan.dose))
            plan.version += 1
            plan.field_versions = {**plan.field_versions, "stock": plan.version}
            await repo.log_change(session, user_id, "plan", plan.id, plan.version)
            await self._refill_reminder(session, plan, now)
        schedule = Schedule.model_validate(plan.schedule)
        if state in ("taken", "taken_late") and schedule.kind == "interval" and schedule.from_last_taken \
                and plan.deleted_at is None:
            # Intervals count from the dose actually taken: re-anchor the rest of the series on it.
            step = timedelta(hours=schedule.every_hours or 24)
            plan.anchor_at = taken_at
            await repo.drop_future_unsent(session, plan.id, max(now, occ.due_at))
            await self._expand(session, plan, max(now, taken_at + step - timedelta(seconds=1)), reset=False,
                               anchor=taken_at)
        await repo.log_change(session, user_id, "occurrence", occ.id, occ.version)
        await add_event(session, DoseRecordedV1(user_id=user_id, plan_id=str(plan.id), occurrence_id=str(occ.id),
                                                state=state, due_at=occ.due_at, taken_at=taken_at,
                                                drug_id=plan.drug_id, drug_class=plan.drug_class))
        return occ, True

    async def take_prn(self, session: AsyncSession, user_id: str, plan_id: uuid.UUID, at: datetime | None,
                       now: datetime | None = None) -> Occurrence:
        now = now or utcnow()
        plan = await self.get_plan(session, user_id, plan_id, lock=True)
        schedule = Schedule.model_validate(plan.schedule)
        if schedule.kind != "prn":
            raise FieldError("plan_id", "只有按需计划可以这样记录。 Only as-needed plans take unscheduled doses.")
        at = (at or now).astimezone(UTC)
        if at > now + timedelta(minutes=5):
            raise FieldError("at", "服药时间不能在将来。 'at' cannot be in the future.")
        last = await repo.last_taken(session, plan.id)
        gap = timedelta(hours=schedule.min_interval_hours or 0)
        if last is not None and abs(at - last) < gap:
            raise PrnTooSoonError(details={"last_taken_at": last.isoformat(),
                                           "next_allowed_at": (last + gap).isoformat()})
        occ = Occurrence(id=uuid.uuid4(), user_id=user_id, plan_id=plan.id, kind="dose", due_at=at,
                         local_date=at.astimezone(ZoneInfo(plan.timezone)).date(), state="taken", version=1,
                         taken_at=at, recorded_at=now, fire_count=0, updated_at=now)
        session.add(occ)
        if plan.stock is not None:
            plan.stock = max(0.0, plan.stock - plan.dose)
            plan.version += 1
            await repo.log_change(session, user_id, "plan", plan.id, plan.version)
        await session.flush()
        await repo.log_change(session, user_id, "occurrence", occ.id, occ.version)
        await add_event(session, DoseRecordedV1(user_id=user_id, plan_id=str(plan.id), occurrence_id=str(occ.id),
                                                state="taken", due_at=at, taken_at=at, drug_id=plan.drug_id,
                                                drug_class=plan.drug_class))
        return occ

    # ---- missed-dose advice -----------------------------------------------------------------------------------
    async def advice(self, session: AsyncSession, user_id: str, occ_id: uuid.UUID,
                     now: datetime | None = None) -> AdviceOut:
        now = now or utcnow()
        occ = await self.get_occurrence(session, user_id, occ_id)
        if occ.kind != "dose" or occ.plan_id is None:
            raise NotRecordableError("id")
        plan = await repo.get_plan(session, user_id, occ.plan_id, include_deleted=True)
        assert plan is not None
        schedule = Schedule.model_validate(plan.schedule)
        nxt = await repo.next_occurrence(session, plan.id, occ.due_at)
        hours_since = max(0.0, (now - occ.due_at).total_seconds() / 3600)
        # The real gap to the next stored dose beats the nominal one (uneven times like 08:00/20:00/22:00).
        interval = ((nxt.due_at - occ.due_at).total_seconds() / 3600 if nxt is not None else None) \
            or interval_hours(schedule, MealTimes.model_validate(plan.meal_times))
        if interval is None and plan.drug_id:
            match = self.drugs.find_drug(self.cipher.decrypt(plan.drug_enc) or "")
            interval = match.interval_hours if match else None
        base = dict(occurrence_id=occ.id, hours_since_due=round(hours_since, 2), interval_hours=interval,
                    next_due_at=nxt.due_at if nxt else None, shifted_next_due_at=None)
        if occ.state in RECORDED:
            return AdviceOut(**base, action="already_recorded", rule_id="ledger.already_recorded",
                             class_id=plan.drug_class or UNMATCHED, never_double=True,
                             advice=f"该次已记录为 {occ.state}，无需再服。",
                             advice_en=f"This dose is already recorded as {occ.state}; do not take it again.")
        rule = self.drugs.missed_dose_advice(plan.drug_class, hours_since, interval)
        action, rule_id, text, text_en = rule.action, rule.rule_id, rule.advice, rule.advice_en
        next_open = nxt is not None and nxt.state in ("scheduled", "due")
        next_done = nxt is not None and nxt.state in ("taken", "taken_late")
        if action in ("take_now", "take_now_shift_schedule") and (next_done or (nxt is not None and now >= nxt.due_at)):
            # Never double: the next dose is already due or taken, so this one is dropped whatever the class says.
            action, rule_id = "skip", "never_double.next_dose_due"
            text = "下一次剂量已到时间或已服用，跳过漏服的这一次，不要一次服用两倍剂量。"
            text_en = "The next dose is already due or taken: skip the missed one. Never take a double dose."
        shifted = None
        if action == "take_now_shift_schedule" and interval and next_open:
            shifted = now + timedelta(hours=interval)
        base["shifted_next_due_at"] = shifted
        return AdviceOut(**base, action=action, rule_id=rule_id, class_id=rule.class_id,
                         never_double=rule.never_double, advice=text, advice_en=text_en)

    # ---- admin statistics -----------------------------------------------------------------------------------------
    async def adherence_stats(self, session: AsyncSession, date_from: date, date_to: date) -> AdherenceStats:
        """Doses per patient-local day in [date_from, date_to] by outcome, and the share taken (counts only)."""
        days = InvalidDateRangeError.days(date_from, date_to, max_days=MAX_STATS_DAYS)
        counts, patients = await repo.dose_counts_by_day(session, date_from, date_to)
        per_day = []
        for d in days:
            c = counts.get(d, {})
            per_day.append(AdherenceDay(date=d, taken=c.get("taken", 0), taken_late=c.get("taken_late", 0),
                                        skipped=c.get("skipped", 0), missed=c.get("missed", 0),
                                        open=c.get("scheduled", 0) + c.get("due", 0),
                                        proportion_taken=_share(c.get("taken", 0) + c.get("taken_late", 0),
                                                                sum(c.get(s, 0) for s in DECIDED))))
        taken = sum(d.taken + d.taken_late for d in per_day)
        decided = sum(d.taken + d.taken_late + d.skipped + d.missed for d in per_day)
        return AdherenceStats(per_day=per_day, patients=patients, proportion_taken=_share(taken, decided))

    # ---- adherence ----------------------------------------------------------------------------------------------
    async def adherence(self, session: AsyncSession, caller: str, subject: str, days: int,
                        now: datetime | None = None) -> AdherenceOut:
        now = now or utcnow()
        if subject != caller and await repo.active_consent(session, subject, caller, "adherence") is None:
            raise ConsentRequiredError()
        plans = {p.id: p for p in (await session.execute(select(Plan).where(Plan.user_id == subject))).scalars()}
        zone = ZoneInfo(max(plans.values(), key=lambda p: p.created_at).timezone) if plans else ZoneInfo("UTC")
        today = now.astimezone(zone).date()
        first = today - timedelta(days=days - 1)
        occs = await repo.dose_history(session, subject, first, today, now)
        counts = {"taken": 0, "taken_late": 0, "skipped": 0, "missed": 0}
        per_plan: dict[uuid.UUID, dict[str, Any]] = {}
        day_status: dict[date, list[bool]] = {}
        for o in occs:
            if o.state not in counts:
                continue   # still open (before its grace period ends)
            counts[o.state] += 1
            ok = o.state in ("taken", "taken_late")
            day_status.setdefault(o.local_date, []).append(ok)
            h = per_plan.setdefault(o.plan_id, {"counts": {k: 0 for k in counts}, "days": {}})
            h["counts"][o.state] += 1
            h["days"].setdefault(o.local_date.isoformat(), []).append(ok)
        due = sum(counts.values())
        current = longest = run = 0
        d = first
        while d <= today:
            if d in day_status:
                run = run + 1 if all(day_status[d]) else 0
                longest = max(longest, run)
            d += timedelta(days=1)
        for d in sorted(day_status, reverse=True):
            if not all(day_status[d]):
                break
            current += 1
        per_drug = []
        for pid, h in per_plan.items():
            plan = plans.get(pid)
            c = h["counts"]
            n = sum(c.values())
            per_drug.append(DrugHistory(
                plan_id=pid, drug=self.cipher.decrypt(plan.drug_enc) if plan else "", class_id=plan.drug_class if plan else None,
                due=n, **c, proportion_taken=round((c["taken"] + c["taken_late"]) / n, 4) if n else None,
                days={k: ("all" if all(v) else "none" if not any(v) else "partial") for k, v in h["days"].items()}))
        return AdherenceOut(user_id=subject, days=days, due=due, **counts,
                            proportion_taken=round((counts["taken"] + counts["taken_late"]) / due, 4) if due else None,
                            streak_days=Streak(current=current, longest=longest), per_drug=per_drug)

    # ---- what a reminder says (SSE, webhooks) -------------------------------------------------------------
    def reminder_message(self, occ: Occurrence, plan: Plan | None, attempt: int, caregiver: bool = False) -> dict:
        fired = occ.last_fired_at or utcnow()
        return {"occurrence_id": str(occ.id), "kind": occ.kind, "due_at": occ.due_at.isoformat(),
                "attempt": attempt, "caregiver": caregiver, "fired_at": fired.isoformat(),
                "drug": self.cipher.decrypt(plan.drug_enc) if plan else None,
                "dose": plan.dose if plan else None, "unit": plan.unit if plan else None}

    async def unacknowledged_since(self, session: AsyncSession, user_id: str, since: datetime,
                                   limit: int = 100) -> list[dict]:
        """Reminders sent after ``since`` and still open (for an SSE client that reconnects): oldest first."""
        rows = (await session.execute(
            select(Occurrence, Plan).outerjoin(Plan, Plan.id == Occurrence.plan_id).where(
                Occurrence.user_id == user_id, Occurrence.last_fired_at > since, Occurrence.fire_count > 0,
                Occurrence.state.in_(repo.OPEN_STATES)).order_by(Occurrence.last_fired_at).limit(limit))).all()
        return [self.reminder_message(o, p, o.fire_count) for o, p in rows]

    # ---- devices and consents -----------------------------------------------------------------------------------
    def device_out(self, d: Device) -> DeviceOut:
        return DeviceOut(id=d.id, kind=d.kind, address=self.cipher.decrypt(d.address_enc) or "", version=d.version,
                         created_at=d.created_at)

    async def add_device(self, session: AsyncSession, user_id: str, kind: str, address: str,
                         device_id: uuid.UUID | None = None) -> Device:
        if kind == "webhook":
            check_webhook_url(address, self.allowed_hosts(), "url")
        secret = secrets.token_urlsafe(32) if kind == "webhook" else None
        d = Device(id=device_id or uuid.uuid4(), user_id=user_id, kind=kind, address_enc=self.cipher.encrypt(address),
                   secret_enc=self.cipher.encrypt(secret), version=1, created_at=utcnow())
        session.add(d)
        await session.flush()
        await repo.log_change(session, user_id, "device", d.id, d.version)
        return d

    async def delete_device(self, session: AsyncSession, user_id: str, device_id: uuid.UUID) -> None:
        d = await repo.get_device(session, user_id, device_id)
        if d is None:
            raise DeviceNotFoundError()
        d.deleted_at = utcnow()
        d.version += 1
        await repo.log_change(session, user_id, "device", d.id, d.version, deleted=True)

    def consent_out(self, c: Consent) -> ConsentOut:
        return ConsentOut(id=c.id, grantee_id=c.grantee_id, scope=c.scope, version=c.version,
                          created_at=c.created_at, revoked_at=c.revoked_at)

    async def grant(self, session: AsyncSession, user_id: str, grantee_id: str, scope: str) -> Consent:
        if grantee_id == user_id:
            raise FieldError("grantee_id", "不能授权给自己。 You cannot grant consent to yourself.")
        existing = await repo.active_consent(session, user_id, grantee_id, scope)
        if existing is not None:
            return existing
        c = Consent(id=uuid.uuid4(), user_id=user_id, grantee_id=grantee_id, scope=scope, version=1,
                    created_at=utcnow())
        session.add(c)
        await session.flush()
        await repo.log_change(session, user_id, "consent", c.id, c.version)
        return c

    async def revoke(self, session: AsyncSession, user_id: str, consent_id: uuid.UUID) -> Consent:
        c = await repo.get_consent(session, user_id, consent_id)
        if c is None:
            raise ConsentNotFoundError()
        if c.revoked_at is None:
            c.revoked_at = utcnow()
            c.version += 1
            await repo.log_change(session, user_id, "consent", c.id, c.version)
        return c

    # ---- calendar -------------------------------------------------------------------------------------------
    @staticmethod
    def token_hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def new_calendar_token(self, session: AsyncSession, user_id: str) -> str:
        await repo.revoke_calendar_tokens(session, user_id, utcnow())
        token = secrets.token_urlsafe(32)
        await repo.add_calendar_token(session, user_id, self.token_hash(token))
        return token

    # ---- sync and backup ------------------------------------------------------------------------------------
    async def sync(self, session: AsyncSession, user_id: str, since: int, limit: int) -> tuple[int, list[dict], bool]:
        rows = await repo.changes_since(session, user_id, since, limit + 1)
        has_more = len(rows) > limit
        rows = list(rows[:limit])
        cursor = rows[-1].seq if rows else since
        latest: dict[uuid.UUID, Any] = {}
        for r in rows:
            latest[r.resource_id] = r
        out = []
        for r in sorted(latest.values(), key=lambda c: c.seq):
            data = None if r.deleted else await self._resource(session, user_id, r.resource, r.resource_id)
            out.append({"seq": r.seq, "resource": r.resource, "id": r.resource_id, "version": r.version,
                        "deleted": r.deleted or data is None, "data": data})
        return cursor, out, has_more

    async def _resource(self, session: AsyncSession, user_id: str, kind: str, rid: uuid.UUID) -> dict | None:
        if kind == "plan":
            p = await repo.get_plan(session, user_id, rid)
            return self.plan_out(p).model_dump(mode="json") if p else None
        if kind == "occurrence":
            o = await repo.get_occurrence(session, user_id, rid)
            return self.occurrence_out(o).model_dump(mode="json") if o else None
        if kind == "device":
            d = await repo.get_device(session, user_id, rid)
            return self.device_out(d).model_dump(mode="json") if d else None
        if kind == "consent":
            c = await repo.get_consent(session, user_id, rid)
            return self.consent_out(c).model_dump(mode="json") if c else None
        return None

    def _plan_body(self, plan: Plan) -> dict:
        out = self.plan_out(plan)
        body = {f: getattr(out, f) for f in PlanCreate.model_fields if f != "drug"}
        body["drug"] = out.drug.text
        return PlanCreate.model_construct(**body).model_dump(mode="json")

    async def export(self, session: AsyncSession, user_id: str) -> dict:
        plans = await repo.list_plans(session, user_id)
        records = (await session.execute(select(Occurrence).where(
            Occurrence.user_id == user_id, Occurrence.kind == "dose",
            Occurrence.state.in_(repo.DONE_STATES)).order_by(Occurrence.due_at))).scalars().all()
        return {"format": "zhenxi.reminders.export.v1", "exported_at": utcnow().isoformat(),
                "plans": [{"id": str(p.id), "version": p.version, "plan": self._plan_body(p)} for p in plans],
                "records": [{"plan_id": str(o.plan_id), "due_at": o.due_at.isoformat(), "state": o.state,
                             "local_date": o.local_date.isoformat(),
                             "taken_at": o.taken_at.isoformat() if o.taken_at else None} for o in records],
                "devices": [{"id": str(d.id), "kind": d.kind, "address": self.cipher.decrypt(d.address_enc)}
                            for d in await repo.list_devices(session, user_id)],
                "consents": [{"grantee_id": c.grantee_id, "scope": c.scope}
                             for c in await repo.list_consents(session, user_id) if c.revoked_at is None]}

    async def import_(self, session: AsyncSession, user_id: str, doc: dict, now: datetime | None = None) -> dict:
        """Restore an export into this account: plans and devices keep their ids (already present: kept as they
        are), records land on their doses; importing the same file twice changes nothing."""
        now = now or utcnow()
        counts = {"plans": 0, "records": 0, "devices": 0, "consents": 0}
        ids: dict[uuid.UUID, uuid.UUID] = {}   # export id -> id here (a new one if another account holds it)
        for i, item in enumerate(doc.get("plans", [])):
            try:
                pid = uuid.UUID(str(item["id"]))
                body = PlanCreate.model_validate(item["plan"])
            except (KeyError, ValueError, TypeError, ValidationError) as exc:
                raise ImportInvalidError(f"plans[{i}]", reason=str(exc)[:300]) from exc
            other = await session.get(Plan, pid)
            ids[pid] = pid
            if other is not None and other.user_id == user_id:
                continue
            if other is not None:
                ids[pid] = uuid.uuid4()
            await self.create_plan(session, user_id, body, plan_id=ids[pid], now=now, allow_past=True)
            counts["plans"] += 1
        for i, rec in enumerate(doc.get("records", [])):
            try:
                pid = uuid.UUID(str(rec["plan_id"]))
                pid = ids.get(pid, pid)
                due = datetime.fromisoformat(rec["due_at"])
                state = rec["state"]
                taken = datetime.fromisoformat(rec["taken_at"]) if rec.get("taken_at") else None
                local = date.fromisoformat(rec["local_date"])
                if state not in repo.DONE_STATES or due.tzinfo is None:
                    raise ValueError("bad state or naive due_at")
            except (KeyError, ValueError, TypeError) as exc:
                raise ImportInvalidError(f"records[{i}]", reason=str(exc)[:300]) from exc
            if await repo.get_plan(session, user_id, pid, include_deleted=True) is None:
                raise ImportInvalidError(f"records[{i}].plan_id", reason="unknown plan")
            existing = (await session.execute(select(Occurrence).where(
                Occurrence.plan_id == pid, Occurrence.due_at == due))).scalar_one_or_none()
            if existing is None:
                existing = Occurrence(id=uuid.uuid4(), user_id=user_id, plan_id=pid, kind="dose", due_at=due,
                                      local_date=local, state=state, version=1, taken_at=taken, recorded_at=now,
                                      fire_count=0, updated_at=now)
                session.add(existing)
                await session.flush()
            elif existing.state in repo.DONE_STATES:
                continue
            else:
                existing.state, existing.taken_at, existing.recorded_at = state, taken, now
                existing.next_fire_at = None
                existing.version += 1
            await repo.log_change(session, user_id, "occurrence", existing.id, existing.version)
            counts["records"] += 1
        known = {self.cipher.decrypt(d.address_enc) for d in await repo.list_devices(session, user_id)}
        for i, dev in enumerate(doc.get("devices", [])):
            if dev.get("kind") not in ("webhook", "wechat") or not dev.get("address"):
                raise ImportInvalidError(f"devices[{i}]")
            if dev["address"] in known:
                continue
            await self.add_device(session, user_id, dev["kind"], dev["address"])
            counts["devices"] += 1
        for i, c in enumerate(doc.get("consents", [])):
            if not isinstance(c.get("grantee_id"), str) or c.get("scope", "adherence") != "adherence":
                raise ImportInvalidError(f"consents[{i}]")
            if await repo.active_consent(session, user_id, c["grantee_id"], "adherence") is None:
                await self.grant(session, user_id, c["grantee_id"], "adherence")
                counts["consents"] += 1
        return counts
