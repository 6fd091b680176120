"""Public contract of the report service."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SectionKind = Literal["lab", "xray", "symptoms"]
SectionStatus = Literal["pending", "running", "done", "unavailable"]
ReportStatus = Literal["pending", "running", "completed", "failed"]


class Caller(BaseModel):
    user_id: str
    role: str


class ServiceInfo(BaseModel):
    service: str
    version: str
    caller: Caller


class SectionState(BaseModel):
    kind: SectionKind
    status: SectionStatus
    reason: dict[str, Any] | None = Field(None, description="why a section is unavailable: service, code, detail")
    runs: int


class Links(BaseModel):
    self: str
    events: str
    retry: str


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    status: ReportStatus
    lang: Literal["zh", "en"]
    created_at: datetime
    completed_at: datetime | None
    urgency: str | None
    urgent: bool
    sections: list[SectionState]
    links: Links
    report: dict[str, Any] | None = Field(None, description="the composed report once completed: summary, "
                                          "sections, trends, critical values, departments, tips, disclaimer")


class ReportSummary(BaseModel):
    id: str
    status: ReportStatus
    created_at: datetime
    report_date: datetime | None
    urgency: str | None
    urgent: bool
    sections: list[SectionState]


class ReportList(BaseModel):
    items: list[ReportSummary]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


# ---------------------------------------------------------------- indicator history and admin statistics
class IndicatorPoint(BaseModel):
    report_id: str
    taken_at: datetime
    value: float
    unit: str | None
    flag: str | None


class IndicatorHistory(BaseModel):
    code: str
    name: str
    name_en: str
    points: list[IndicatorPoint] = Field(description="oldest first")


class IndicatorSeen(BaseModel):
    code: str
    name: str
    name_en: str
    count: int
    last_taken_at: datetime
    last_value: float
    last_unit: str | None
    last_flag: str | None


class IndicatorIndex(BaseModel):
    items: list[IndicatorSeen] = Field(description="the indicators in the caller's completed reports, "
                                               "most measured first")


class ReportDay(BaseModel):
    date: date
    reports: int
    completed: int
    critical: int


class ReportStats(BaseModel):
    per_day: list[ReportDay] = Field(description="every day of the range, oldest first (days without reports too)")
    total: int
    completed: int
    critical: int
    critical_share: float = Field(description="share of completed reports with a critical value (0 when none)")
