"""Request and response models: the public contract. Requests forbid unknown fields."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Period = Literal["morning", "afternoon", "evening"]
Title = Literal["主任医师", "副主任医师", "主治医师", "住院医师"]


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


def _clean_text(value: object) -> object:
    """Refuse text Postgres or UTF-8 cannot hold (NUL characters, lone surrogates) as a 422, not a 500."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode") from None
    elif isinstance(value, list):
        for item in value:
            _clean_text(item)
    return value


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_unstorable_text(cls, value: object) -> object:
        return _clean_text(value)


# ---- admin requests
class HospitalIn(Request):
    name: str = Field(min_length=1, max_length=100)
    city: str = Field(min_length=1, max_length=50)
    address: str = Field("", max_length=200)
    level: str = Field("", max_length=20)
    provider: Literal["local", "his"] = "local"
    his_base_url: str | None = Field(None, min_length=8, max_length=300, pattern=r"^https?://")


class DoctorIn(Request):
    hospital_id: uuid.UUID
    department_id: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=50)
    title: Title
    specialties: list[str] = Field(default_factory=list, max_length=20)
    bio: str = Field("", max_length=2000)
    photo_url: str | None = Field(None, max_length=300, pattern=r"^https?://")


class SessionIn(Request):
    doctor_id: uuid.UUID
    date: date
    period: Period
    capacity: int = Field(ge=1, le=500)
    fee: float = Field(ge=0, le=100000, description="挂号费 in yuan")


class WeekSlot(Request):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    period: Period


class BulkWeekIn(Request):
    doctor_id: uuid.UUID
    week_start: date = Field(description="the Monday of the week")
    slots: list[WeekSlot] = Field(min_length=1, max_length=21)
    capacity: int = Field(ge=1, le=500)
    fee: float = Field(ge=0, le=100000)


class CloseIn(Request):
    reason: str = Field(min_length=1, max_length=200)


class LookupIn(Request):
    id_number: str | None = Field(None, min_length=1, max_length=40)
    phone: str | None = Field(None, min_length=1, max_length=40)


# ---- patient requests
class HoldIn(Request):
    session_id: uuid.UUID


class PatientIn(Request):
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=1, max_length=40)


class BookingIn(Request):
    hold_id: uuid.UUID
    patient: PatientIn


# ---- responses
class Ref(BaseModel):
    id: str
    name: str


class HospitalOut(BaseModel):
    id: str
    name: str
    city: str
    address: str
    level: str
    provider: str


class DoctorOut(BaseModel):
    id: str
    name: str
    title: str
    specialties: list[str]
    bio: str
    photo_url: str | None
    department: Ref
    hospital: Ref
    relevance: float | None = None
    available_slots: int | None = None


class DoctorPage(BaseModel):
    items: list[DoctorOut]
    next_cursor: str | None


class SessionOut(BaseModel):
    id: str
    doctor_id: str
    date: str
    period: str
    start: str
    end: str
    capacity: int
    remaining: int
    fee_cents: int
    status: str
    booking_closes_at: str


class BulkWeekOut(BaseModel):
    created: list[SessionOut]
    skipped: int


class CloseOut(BaseModel):
    session: SessionOut
    cancelled_bookings: int


class SessionState(BaseModel):
    session_id: str
    remaining: int
    version: int
    status: str | None = None
    source: str


class HoldOut(BaseModel):
    id: str
    session_id: str
    status: str
    expires_at: str
    remaining: int


class MaskedPatient(BaseModel):
    name: str
    id_number: str
    phone: str


class DoctorRef(Ref):
    title: str


class BookingOut(BaseModel):
    id: str
    status: str
    session_id: str
    hospital: Ref
    department: Ref
    doctor: DoctorRef
    date: str
    period: str
    window_start: str
    window_end: str
    seq_no: int
    fee_cents: int
    patient: MaskedPatient
    cancel_deadline: str
    cancel_reason: str | None
    created_at: str | None
    cancelled_at: str | None


class BookingPage(BaseModel):
    items: list[BookingOut]
    next_cursor: str | None


class VoucherOut(BaseModel):
    booking_id: str
    hospital: str
    hospital_address: str
    department: str
    department_id: str
    doctor: str
    doctor_title: str
    date: str
    period: str
    window_start: str
    window_end: str
    seq_no: int = Field(description="就诊序号")
    verify_code: str
    fee_cents: int
    patient: MaskedPatient
    status: str
    qr_payload: str


class NotificationOut(BaseModel):
    id: str
    booking_id: str
    kind: str
    message: str
    created_at: datetime


class AuditOut(BaseModel):
    id: str
    actor_id: str
    action: str
    target: dict
    created_at: datetime


class DepartmentStat(BaseModel):
    department_id: str
    date: str
    bookings: int
    cancelled: int
    no_show: int


class StatsOut(BaseModel):
    per_department_day: list[DepartmentStat]
    total: int
    cancelled: int
    no_show: int
    cancellation_rate: float
    no_show_rate: float


class SyncOut(BaseModel):
    doctors: int
    sessions: int
    skipped: int


class DepartmentOut(BaseModel):
    id: str
    name: str
    name_en: str
