"""Admin statistics: dose adherence per day across all patients (no personal data: counts only). Kept apart from
``api.py`` as a small read-only view with its own router."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from zhenxi_common.db import DbSession
from zhenxi_common.errors import FieldError, ForbiddenError, error_responses
from zhenxi_common.identity import Identity, require_role

from .models import Occurrence

MAX_DAYS = 366
DECIDED = ("taken", "taken_late", "skipped", "missed")

admin_router = APIRouter(prefix="/v1/admin", tags=["reminders admin"])
Admin = Annotated[Identity, Depends(require_role("admin"))]


class InvalidRangeError(FieldError):
    code = "invalid_date_range"
    default_message = "日期范围无效。 The date range is not valid."


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


def _share(taken: int, decided: int) -> float | None:
    return round(taken / decided, 4) if decided else None


@admin_router.get("/adherence", response_model=AdherenceStats,
                  responses=error_responses(ForbiddenError, InvalidRangeError))
async def adherence_stats(session: DbSession, _: Admin, date_from: date, date_to: date) -> AdherenceStats:
    """Doses per patient-local day in [date_from, date_to] by outcome, and the share taken."""
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise InvalidRangeError("date_to", max_days=MAX_DAYS)
    in_range = (Occurrence.kind == "dose", Occurrence.local_date >= date_from, Occurrence.local_date <= date_to)
    rows = (await session.execute(select(Occurrence.local_date, Occurrence.state, func.count())
                                  .where(*in_range).group_by(Occurrence.local_date, Occurrence.state))).all()
    patients = (await session.execute(select(func.count(func.distinct(Occurrence.user_id))).where(*in_range))
                ).scalar_one()
    counts: dict[date, dict[str, int]] = {}
    for day, state, n in rows:
        counts.setdefault(day, {})[state] = n
    per_day = []
    for i in range((date_to - date_from).days + 1):
        d = date_from + timedelta(days=i)
        c = counts.get(d, {})
        taken = c.get("taken", 0) + c.get("taken_late", 0)
        decided = sum(c.get(s, 0) for s in DECIDED)
        per_day.append(AdherenceDay(date=d, taken=c.get("taken", 0), taken_late=c.get("taken_late", 0),
                                    skipped=c.get("skipped", 0), missed=c.get("missed", 0),
                                    open=c.get("scheduled", 0) + c.get("due", 0),
                                    proportion_taken=_share(taken, decided)))
    taken = sum(d.taken + d.taken_late for d in per_day)
    decided = sum(d.taken + d.taken_late + d.skipped + d.missed for d in per_day)
    return AdherenceStats(per_day=per_day, patients=patients, proportion_taken=_share(taken, decided))
