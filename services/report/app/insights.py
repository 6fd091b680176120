"""Read-only views across reports: a user's indicator history (for trend charts over time) and, for admins, reports
per day with the share that held a critical value. Routes, schemas and queries of these views live together here
because they are small and read nothing the report routes write differently."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.db import DbSession
from zhenxi_common.errors import FieldError, ForbiddenError, error_responses
from zhenxi_common.identity import CurrentUser, Identity, require_role

from .models import IndicatorValue, Report

MAX_STATS_DAYS = 366

router = APIRouter(prefix="/v1", tags=["report history"])
admin_router = APIRouter(prefix="/v1/admin", tags=["report admin"])
Admin = Annotated[Identity, Depends(require_role("admin"))]


class InvalidRangeError(FieldError):
    code = "invalid_date_range"
    default_message = "日期范围无效。 The date range is not valid."


# ---------------------------------------------------------------- schemas
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


# ---------------------------------------------------------------- names
def _names(request: Request) -> dict[str, tuple[str, str]]:
    cached = getattr(request.app.state, "indicator_names", None)
    if cached is None:
        from zhenxi_knowledge import get_knowledge

        kb = get_knowledge(request.app.state.settings.knowledge_dir)
        cached = {code: (i.name, i.name_en) for code, i in kb.indicators.items()}
        request.app.state.indicator_names = cached
    return cached


# ---------------------------------------------------------------- queries
async def indicator_index(session: AsyncSession, user_id: str) -> list[tuple]:
    latest = (select(IndicatorValue.code, IndicatorValue.value, IndicatorValue.unit, IndicatorValue.flag,
                     IndicatorValue.taken_at,
                     func.count().over(partition_by=IndicatorValue.code).label("n"),
                     func.row_number().over(partition_by=IndicatorValue.code,
                                            order_by=(IndicatorValue.taken_at.desc(), IndicatorValue.id.desc()))
                     .label("rn"))
              .where(IndicatorValue.user_id == user_id).subquery())
    q = select(latest).where(latest.c.rn == 1).order_by(latest.c.n.desc(), latest.c.code)
    return list((await session.execute(q)).all())


async def indicator_points(session: AsyncSession, user_id: str, code: str, limit: int) -> list[IndicatorValue]:
    q = (select(IndicatorValue).where(IndicatorValue.user_id == user_id, IndicatorValue.code == code)
         .order_by(IndicatorValue.taken_at.desc(), IndicatorValue.id.desc()).limit(limit))
    return list(reversed((await session.execute(q)).scalars().all()))


async def report_days(session: AsyncSession, start: datetime, end: datetime) -> dict[date, tuple[int, int, int]]:
    day = cast(func.timezone("UTC", Report.created_at), Date)
    q = (select(day.label("day"), func.count(),
                func.count().filter(Report.status == "completed"),
                func.count().filter(Report.status == "completed", Report.critical.is_(True)))
         .where(Report.created_at >= start, Report.created_at < end).group_by(day))
    return {row[0]: (row[1], row[2], row[3]) for row in (await session.execute(q)).all()}


# ---------------------------------------------------------------- routes
@router.get("/indicators", response_model=IndicatorIndex)
async def list_indicators(request: Request, session: DbSession, user: CurrentUser) -> IndicatorIndex:
    """The indicators measured in the caller's reports, each with its count and latest value."""
    names = _names(request)
    items = [IndicatorSeen(code=r.code, name=names.get(r.code, (r.code, r.code))[0],
                           name_en=names.get(r.code, (r.code, r.code))[1], count=r.n, last_taken_at=r.taken_at,
                           last_value=r.value, last_unit=r.unit, last_flag=r.flag)
             for r in await indicator_index(session, user.user_id)]
    return IndicatorIndex(items=items)


# Codes are the knowledge base's own (NEUT%, BASO#, A/G, Lp(a), β-hCG): any non-blank text, '/' included, which
# clients send percent-encoded; the ``path`` converter keeps a decoded '/' inside the code.
@router.get("/indicators/{code:path}/history", response_model=IndicatorHistory)
async def indicator_history(request: Request, session: DbSession, user: CurrentUser,
                            code: Annotated[str, Path(max_length=64, pattern=r"^\S+$")],
                            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> IndicatorHistory:
    """One indicator's values across the caller's reports, oldest first (empty when never measured)."""
    name, name_en = _names(request).get(code, (code, code))
    points = [IndicatorPoint(report_id=str(v.report_id), taken_at=v.taken_at, value=v.value, unit=v.unit, flag=v.flag)
              for v in await indicator_points(session, user.user_id, code, limit)]
    return IndicatorHistory(code=code, name=name, name_en=name_en, points=points)


@admin_router.get("/stats", response_model=ReportStats,
                  responses=error_responses(ForbiddenError, InvalidRangeError))
async def report_stats(session: DbSession, _: Admin, date_from: date, date_to: date) -> ReportStats:
    """Reports per day (UTC) in [date_from, date_to], completed ones and those with a critical value."""
    if date_to < date_from or (date_to - date_from).days >= MAX_STATS_DAYS:
        raise InvalidRangeError("date_to", max_days=MAX_STATS_DAYS)
    start = datetime.combine(date_from, time.min, tzinfo=timezone.utc)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=timezone.utc)
    found = await report_days(session, start, end)
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    per_day = [ReportDay(date=d, reports=found.get(d, (0, 0, 0))[0], completed=found.get(d, (0, 0, 0))[1],
                         critical=found.get(d, (0, 0, 0))[2]) for d in days]
    total = sum(d.reports for d in per_day)
    completed = sum(d.completed for d in per_day)
    critical = sum(d.critical for d in per_day)
    return ReportStats(per_day=per_day, total=total, completed=completed, critical=critical,
                       critical_share=round(critical / completed, 4) if completed else 0.0)
