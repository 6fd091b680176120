"""Event contracts shared by publishers and consumers. A subject carries its version
(``report.completed.v1``); a breaking change adds ``.v2`` beside it rather than editing v1.
Payloads carry ids, never personal data."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
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


class ReportCompletedV1(Event):
    subject = "report.completed.v1"
    user_id: str
    report_id: str
    tags: list[str] = []


class DoseMissedV1(Event):
    subject = "reminders.dose_missed.v1"
    user_id: str
    plan_id: str
    dose_id: str


class BookingConfirmedV1(Event):
    subject = "booking.confirmed.v1"
    user_id: str
    booking_id: str
    slot_id: str


class BookingCancelledV1(Event):
    subject = "booking.cancelled.v1"
    user_id: str
    booking_id: str
    slot_id: str


class TipsPublishedV1(Event):
    subject = "tips.published.v1"
    user_id: str
    tip_ids: list[str]


EVENT_TYPES: dict[str, type[Event]] = {
    cls.subject: cls
    for cls in (UserRegisteredV1, LabReportParsedV1, XrayAnalyzedV1, ReportCompletedV1, DoseMissedV1,
                BookingConfirmedV1, BookingCancelledV1, TipsPublishedV1)
}


def parse_event(subject: str, data: bytes) -> Event:
    try:
        cls = EVENT_TYPES[subject]
    except KeyError as exc:
        raise ValueError(f"unknown event subject {subject!r}") from exc
    return cls.model_validate_json(data)
