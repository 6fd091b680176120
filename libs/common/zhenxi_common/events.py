"""Event contracts shared by publishers and consumers. A subject carries its version
(``report.completed.v1``); a breaking change adds ``.v2`` beside it rather than editing v1.
Payloads carry ids, never personal data."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime = Field(default_factory=_now)


class UserRegisteredV1(Event):
    subject = "auth.user_registered.v1"
    user_id: str
    role: str


class LabReportParsedV1(Event):
    subject = "ocr.lab_report_parsed.v1"
    user_id: str
    report_type: str
    indicator_codes: list[str]
    abnormal_codes: list[str] = []


class XrayAnalyzedV1(Event):
    subject = "xray.analyzed.v1"
    user_id: str
    analysis_id: str
    positive_findings: list[str]


class FlaggedIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    flag: str  # L N H LL HH POS NEG ABN


class ReportCompletedV1(Event):
    """A report finished (also after a retry filled in a section). Fields after ``tags`` were added with
    defaults, so events written before them still parse."""
    subject = "report.completed.v1"
    user_id: str
    report_id: str
    tags: list[str] = []
    abnormal: list[FlaggedIndicator] = []
    positive_findings: list[str] = []
    urgency: str = "routine"  # routine | soon | urgent | emergency
    departments: list[str] = []
    report_date: datetime | None = None
    unavailable_sections: list[str] = []
    conditions: list[str] = []  # knowledge condition ids the report suggests (read by tips)


class ReportCriticalV1(Event):
    """A report holds a critical value (危急值) or a red-flag symptom: someone should act now."""
    subject = "report.critical.v1"
    user_id: str
    report_id: str
    critical: list[FlaggedIndicator] = []
    red_flags: list[str] = []


class DoseMissedV1(Event):
    subject = "reminders.dose_missed.v1"
    user_id: str
    plan_id: str
    dose_id: str


class ReminderDueV1(Event):
    """One reminder to send (``attempt`` 1 is the first, later ones repeat until acknowledged; ``caregiver``: the
    alert to the patient's Medfriend). Ids and times only; channels look up addresses themselves."""
    subject = "reminder.due.v1"
    user_id: str
    occurrence_id: str
    plan_id: str | None = None
    kind: str = "dose"        # dose | visit | refill
    due_at: datetime
    attempt: int
    caregiver: bool = False


class DoseRecordedV1(Event):
    subject = "dose.recorded.v1"
    user_id: str
    plan_id: str
    occurrence_id: str
    state: str                # taken | taken_late | skipped | missed
    due_at: datetime
    taken_at: datetime | None = None
    drug_id: str | None = None
    drug_class: str | None = None


class PlanChangedV1(Event):
    subject = "plan.changed.v1"
    user_id: str
    plan_id: str
    version: int
    change: str               # created | updated | deleted
    drug_id: str | None = None
    drug_class: str | None = None


class BookingCreatedV1(Event):
    """A confirmed booking (its voucher exists). Carries ids and the visit's time, never the patient's details."""
    subject = "booking.created.v1"
    user_id: str
    booking_id: str
    session_id: str
    doctor_id: str
    hospital_id: str
    department_id: str
    visit_date: date
    period: str
    window_start: str   # "HH:MM", Asia/Shanghai wall time
    window_end: str
    seq_no: int
    remaining: int      # slots left in the session after this booking


class BookingCancelledV1(Event):
    subject = "booking.cancelled.v1"
    user_id: str
    booking_id: str
    session_id: str
    visit_date: date
    reason: str         # patient | session_closed
    remaining: int


class TipsPublishedV1(Event):
    subject = "tips.published.v1"
    user_id: str
    tip_ids: list[str]
