"""The public contract of the reminders API (request models forbid unknown fields)."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

MAX_DOSES_PER_DAY = 48
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


def _time_of_day(v: str) -> str:
    m = _HHMM.match(v)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise PydanticCustomError("time_of_day", "{value} is not a time of day: use HH:MM from 00:00 to 23:59",
                                  {"value": v})
    return v


TimeOfDay = Annotated[str, Field(min_length=5, max_length=5, examples=["08:00"]), AfterValidator(_time_of_day)]


def check_timezone(v: str) -> str:
    try:
        if "/" not in v and v != "UTC":
            raise ZoneInfoNotFoundError(v)
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PydanticCustomError("unknown_timezone", "{value} is not a known IANA time zone (e.g. Asia/Shanghai)",
                                  {"value": v}) from exc
    return v


TimeZone = Annotated[str, Field(min_length=1, max_length=64, examples=["Asia/Shanghai"]), AfterValidator(check_timezone)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# FHIR Timing `when` codes: before (AC) / after (PC) / with (C) meals (M breakfast, D lunch, V dinner), HS before
# sleep, WAKE after waking.
WhenCode = Literal["AC", "ACM", "ACD", "ACV", "PC", "PCM", "PCD", "PCV", "C", "CM", "CD", "CV", "HS", "WAKE"]


MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)


def _in_range(v: date | datetime | None) -> date | datetime | None:
    d = v.date() if isinstance(v, datetime) else v
    if d is not None and not (MIN_DATE <= d <= MAX_DATE):
        raise PydanticCustomError("date_out_of_range", "{value} is outside 2000-01-01..2099-12-31",
                                  {"value": d.isoformat()})
    return v


PlanDate = Annotated[date, AfterValidator(_in_range)]


class Cycle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_days: int = Field(ge=1, le=365)
    off_days: int = Field(ge=1, le=365)


class Schedule(BaseModel):
    """A FHIR-Timing-like schedule. ``kind`` picks which fields apply:
    ``times`` (times_of_day), ``interval`` (every_hours from anchor), ``meals`` (when + offset_min, resolved with
    the plan's meal_times), ``once`` (at, local time), ``prn`` (as needed, min_interval_hours).
    days_of_week and cycle filter the days of times/meals/interval schedules."""
    model_config = ConfigDict(extra="forbid")
    kind: Literal["times", "interval", "meals", "once", "prn"]
    times_of_day: list[TimeOfDay] | None = Field(None, min_length=1, max_length=MAX_DOSES_PER_DAY)
    every_hours: float | None = Field(None, ge=24 / MAX_DOSES_PER_DAY, le=24 * 14)
    anchor: TimeOfDay | None = None
    from_last_taken: bool = True
    when: list[WhenCode] | None = Field(None, min_length=1, max_length=12)
    offset_min: int = Field(0, ge=0, le=240)
    at: Annotated[datetime, AfterValidator(_in_range)] | None = Field(
        None, description="one-off: local wall time in the plan's zone (an offset, if sent, is ignored)")
    min_interval_hours: float | None = Field(None, gt=0, le=24 * 7)
    days_of_week: list[Weekday] | None = Field(None, min_length=1, max_length=7)
    cycle: Cycle | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> "Schedule":
        need = {"times": "times_of_day", "interval": "every_hours", "meals": "when", "once": "at",
                "prn": "min_interval_hours"}[self.kind]
        if getattr(self, need) is None:
            raise PydanticCustomError("missing_for_kind", "schedule.{field} is required when kind is {kind}",
                                      {"field": need, "kind": self.kind})
        if self.times_of_day and len(set(self.times_of_day)) != len(self.times_of_day):
            raise PydanticCustomError("duplicate_times", "schedule.times_of_day lists a time twice")
        return self


class MealTimes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    breakfast: TimeOfDay = "07:30"
    lunch: TimeOfDay = "12:00"
    dinner: TimeOfDay = "18:30"
    sleep: TimeOfDay = "22:30"
    wake: TimeOfDay = "07:00"


Route = Literal["oral", "inhaled", "injection", "topical", "sublingual", "transdermal", "other"]


class Caregiver(BaseModel):
    """A Medfriend: alerted when a dose stays unacknowledged. Reached through a webhook (allowlisted)."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    webhook_url: str = Field(min_length=8, max_length=500)


class PlanBase(BaseModel):
    model_config = ConfigDict(extra="forbid")




def _end_after_start(v: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("start_date")
    if v is not None and start is not None and v < start:
        raise PydanticCustomError("end_before_start", "end_date {end} is before start_date {start}",
                                  {"end": v.isoformat(), "start": start.isoformat()})
    return v


class PlanCreate(PlanBase):
    drug: str = Field(min_length=1, max_length=200, description="as the patient names it; matched to known drugs")
    dose: float = Field(gt=0, le=100000)
    unit: str = Field(min_length=1, max_length=32, examples=["mg", "片", "IU"])
    route: Route = "oral"
    notes: str | None = Field(None, max_length=500, examples=["饭后半小时"])
    timezone: TimeZone
    start_date: PlanDate
    end_date: PlanDate | None = None
    total_count: int | None = Field(None, ge=1, le=100000)
    schedule: Schedule
    meal_times: MealTimes = Field(default_factory=MealTimes)
    stock: float | None = Field(None, ge=0, le=1000000)
    refill_days_ahead: int | None = Field(None, ge=0, le=90)
    caregiver: Caregiver | None = None
    caregiver_after_min: float | None = Field(None, ge=1, le=24 * 60)

    _end = field_validator("end_date")(_end_after_start)


class PlanPatch(PlanBase):
    """Only the fields sent change. Send ``If-Match: <version>``; a stale version conflicts only if a field you
    change was changed by someone else since that version."""
    drug: str | None = Field(None, min_length=1, max_length=200)
    dose: float | None = Field(None, gt=0, le=100000)
    unit: str | None = Field(None, min_length=1, max_length=32)
    route: Route | None = None
    notes: str | None = Field(None, max_length=500)
    timezone: TimeZone | None = None
    start_date: PlanDate | None = None
    end_date: PlanDate | None = None
    total_count: int | None = Field(None, ge=1, le=100000)
    schedule: Schedule | None = None
    meal_times: MealTimes | None = None
    stock: float | None = Field(None, ge=0, le=1000000)
    refill_days_ahead: int | None = Field(None, ge=0, le=90)
    caregiver: Caregiver | None = None
    caregiver_after_min: float | None = Field(None, ge=1, le=24 * 60)
    active: bool | None = None

    _end = field_validator("end_date")(_end_after_start)


class DrugOut(BaseModel):
    text: str
    id: str | None = None
    name: str | None = None
    class_id: str | None = None
    class_name: str | None = None


class RefillOut(BaseModel):
    stock: float | None
    doses_per_day: float | None
    days_left: float | None
    runs_out_on: date | None
    remind_on: date | None


class PlanOut(BaseModel):
    id: uuid.UUID
    version: int
    drug: DrugOut
    dose: float
    unit: str
    route: str
    notes: str | None
    timezone: str
    start_date: date
    end_date: date | None
    total_count: int | None
    schedule: Schedule
    meal_times: MealTimes
    stock: float | None
    refill_days_ahead: int | None
    caregiver: Caregiver | None
    caregiver_after_min: float | None
    active: bool
    refill: RefillOut
    created_at: datetime
    updated_at: datetime


class PlanList(BaseModel):
    plans: list[PlanOut]


class DeliveryOut(BaseModel):
    id: uuid.UUID
    attempt: int
    channel: str
    device_id: uuid.UUID | None
    status: str
    detail: str | None
    created_at: datetime


OccurrenceState = Literal["scheduled", "due", "taken", "taken_late", "skipped", "missed"]


class OccurrenceOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID | None
    kind: str
    due_at: datetime
    local_date: date
    state: OccurrenceState
    version: int
    fire_count: int
    taken_at: datetime | None
    recorded_at: datetime | None
    deliveries: list[DeliveryOut] = []


class OccurrenceList(BaseModel):
    occurrences: list[OccurrenceOut]


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["taken", "skipped"] = Field(description="taken (taken_late is derived from the time) or skipped")
    at: datetime | None = Field(None, description="when it was taken (with offset); default now")

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise PydanticCustomError("naive_datetime", "at needs a UTC offset, e.g. 2026-03-01T08:05:00+08:00")
        return _in_range(v)


class PrnDoseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime | None = None

    _aware = field_validator("at")(RecordIn._aware.__func__)  # type: ignore[attr-defined]


class AdviceOut(BaseModel):
    occurrence_id: uuid.UUID
    action: Literal["take_now", "take_now_shift_schedule", "skip", "ask_doctor", "as_needed", "already_recorded"]
    rule_id: str
    class_id: str
    never_double: bool
    hours_since_due: float
    interval_hours: float | None
    next_due_at: datetime | None
    shifted_next_due_at: datetime | None
    advice: str
    advice_en: str


class Streak(BaseModel):
    current: int
    longest: int


class DrugHistory(BaseModel):
    plan_id: uuid.UUID
    drug: str
    class_id: str | None
    due: int
    taken: int
    taken_late: int
    skipped: int
    missed: int
    proportion_taken: float | None
    days: dict[str, str]


class AdherenceOut(BaseModel):
    user_id: str
    days: int
    due: int
    taken: int
    taken_late: int
    skipped: int
    missed: int
    proportion_taken: float | None
    streak_days: Streak
    per_drug: list[DrugHistory]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["webhook", "wechat"]
    url: str | None = Field(None, min_length=8, max_length=500)
    openid: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _address(self) -> "DeviceIn":
        if self.kind == "webhook" and not self.url:
            raise PydanticCustomError("missing_url", "url is required for a webhook device")
        if self.kind == "wechat" and not self.openid:
            raise PydanticCustomError("missing_openid", "openid is required for a wechat device")
        return self


class DeviceOut(BaseModel):
    id: uuid.UUID
    kind: str
    address: str
    version: int
    created_at: datetime


class DeviceCreated(DeviceOut):
    secret: str | None = Field(None, description="webhooks only, shown once: the HMAC-SHA256 key of the "
                                                 "X-Zhenxi-Signature header on every delivery")


class DeviceList(BaseModel):
    devices: list[DeviceOut]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grantee_id: str = Field(min_length=1, max_length=64)
    scope: Literal["adherence"] = "adherence"


class ConsentOut(BaseModel):
    id: uuid.UUID
    grantee_id: str
    scope: str
    version: int
    created_at: datetime
    revoked_at: datetime | None


class ConsentList(BaseModel):
    consents: list[ConsentOut]


class CalendarTokenOut(BaseModel):
    token: str
    url: str


class ChangeOut(BaseModel):
    seq: int
    resource: str
    id: uuid.UUID
    version: int
    deleted: bool
    data: dict[str, Any] | None


class SyncOut(BaseModel):
    cursor: int
    changes: list[ChangeOut]
    has_more: bool


class ExportDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["zhenxi.reminders.export.v1"] = "zhenxi.reminders.export.v1"
    exported_at: datetime | None = None
    plans: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    records: list[dict[str, Any]] = Field(default_factory=list, max_length=100000)
    devices: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    consents: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


class ImportOut(BaseModel):
    plans: int
    records: int
    devices: int
    consents: int


# ---- admin statistics (counts only, no personal data) ---------------------------------------------------------------
class AdherenceDay(BaseModel):
    date: date
    taken: int
    taken_late: int
    skipped: int
    missed: int
    open: int = Field(description="doses still scheduled or due")
    proportion_taken: float | None = Field(description="(taken + taken_late) / decided doses; null when none")


class AdherenceStats(BaseModel):
    per_day: list[AdherenceDay] = Field(description="every day of the range, oldest first")
    patients: int = Field(description="distinct patients with a dose in the range")
    proportion_taken: float | None
