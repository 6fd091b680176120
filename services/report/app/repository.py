"""Queries of the report schema. Only ``flush()``, never ``commit()``."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, and_, cast, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import IndicatorValue, Report, Section, Upload


async def add_report(session: AsyncSession, *, report_id: uuid.UUID, user_id: str, lang: str, inputs_enc: bytes,
                     kinds: list[str], uploads: list[dict[str, Any]]) -> Report:
    """A pending report with one pending section per kind and its stored uploads' rows."""
    report = Report(id=report_id, user_id=user_id, lang=lang, inputs_enc=inputs_enc, status="pending",
                    critical=False, attempts=0, completions=0)
    session.add(report)
    await session.flush()
    session.add_all([Section(report_id=report_id, kind=kind, status="pending", runs=0) for kind in kinds])
    session.add_all([Upload(id=uuid.uuid4(), report_id=report_id, user_id=user_id, **u) for u in uploads])
    await session.flush()
    return report


async def add_upload(session: AsyncSession, **values: Any) -> Upload:
    up = Upload(id=uuid.uuid4(), **values)
    session.add(up)
    await session.flush()
    return up


async def get_owned(session: AsyncSession, report_id: uuid.UUID, user_id: str) -> Report | None:
    return (await session.execute(select(Report).where(Report.id == report_id, Report.user_id == user_id))
            ).scalar_one_or_none()


async def list_owned(session: AsyncSession, user_id: str, limit: int,
                     after: tuple[datetime, uuid.UUID] | None) -> list[Report]:
    q = select(Report).where(Report.user_id == user_id)
    if after is not None:
        q = q.where(tuple_(Report.created_at, Report.id) < tuple_(after[0], after[1]))
    q = q.order_by(Report.created_at.desc(), Report.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


async def sections_of(session: AsyncSession, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Section]]:
    out: dict[uuid.UUID, list[Section]] = {r: [] for r in report_ids}
    if not report_ids:
        return out
    q = (select(Section).where(Section.report_id.in_(report_ids)).order_by(Section.kind)
         .execution_options(populate_existing=True))   # other transactions write progress meanwhile
    for s in (await session.execute(q)).scalars():
        out[s.report_id].append(s)
    return out


async def uploads_of(session: AsyncSession, report_id: uuid.UUID, kinds: tuple[str, ...] | None = None) -> list[Upload]:
    q = select(Upload).where(Upload.report_id == report_id)
    if kinds:
        q = q.where(Upload.kind.in_(kinds))
    return list((await session.execute(q.order_by(Upload.kind, Upload.position, Upload.created_at))).scalars())


async def sha_still_used(session: AsyncSession, user_id: str, sha256: str) -> bool:
    row = (await session.execute(select(Upload.id).where(Upload.user_id == user_id, Upload.sha256 == sha256)
                                 .limit(1))).first()
    return row is not None


async def claim_next(session: AsyncSession) -> Report | None:
    """The oldest report with work left that no other worker holds. The row lock is held until this
    transaction ends, so two replicas never process one report, and a crashed worker's lock goes with its
    connection (the report is then claimed again). ``FOR NO KEY UPDATE`` still lets other transactions
    insert rows that reference the report (sections' progress, derived images)."""
    q = (select(Report).where(Report.status == "pending").order_by(Report.created_at).limit(1)
         .with_for_update(skip_locked=True, key_share=True))
    return (await session.execute(q)).scalar_one_or_none()


async def claim_one(session: AsyncSession, report_id: uuid.UUID) -> Report | None:
    """The report ``report_id`` if it still has work left and no other worker holds it: the claim of
    ``claim_next`` (same lock, same skip) for a report this replica has just created."""
    q = (select(Report).where(Report.id == report_id, Report.status == "pending")
         .with_for_update(skip_locked=True, key_share=True).execution_options(populate_existing=True))
    return (await session.execute(q)).scalar_one_or_none()


async def set_section(session: AsyncSession, report_id: uuid.UUID, kind: str, **values: Any) -> None:
    await session.execute(update(Section).where(Section.report_id == report_id, Section.kind == kind)
                          .values(**values))


async def history(session: AsyncSession, user_id: str, codes: list[str], before: datetime,
                  exclude_report: uuid.UUID) -> list[IndicatorValue]:
    if not codes:
        return []
    q = (select(IndicatorValue).where(IndicatorValue.user_id == user_id, IndicatorValue.code.in_(codes),
                                      IndicatorValue.report_id != exclude_report, IndicatorValue.taken_at <= before)
         .order_by(IndicatorValue.code, IndicatorValue.taken_at, IndicatorValue.id))
    return list((await session.execute(q)).scalars())


async def replace_indicator_values(session: AsyncSession, report: Report, values: list[dict[str, Any]],
                                   taken_at: datetime, *, replace: bool = True) -> None:
    """The report's indicator values; ``replace=False`` when it has none yet (skips the DELETE round trip)."""
    if replace:
        await session.execute(delete(IndicatorValue).where(IndicatorValue.report_id == report.id))
    if values:   # one multi-row INSERT
        await session.execute(insert(IndicatorValue).values(
            [{"report_id": report.id, "user_id": report.user_id, "taken_at": taken_at, **v} for v in values]))


async def reset_unavailable(session: AsyncSession, report: Report) -> list[str]:
    kinds = [s.kind for s in (await session.execute(select(Section).where(
        Section.report_id == report.id, or_(Section.status == "unavailable", Section.status == "pending")))).scalars()]
    if kinds:
        await session.execute(update(Section).where(and_(Section.report_id == report.id, Section.kind.in_(kinds)))
                              .values(status="pending", reason=None))
        report.status = "pending"
        await session.flush()
    return kinds


async def delete_report(session: AsyncSession, report: Report) -> list[Upload]:
    uploads = await uploads_of(session, report.id)
    await session.delete(report)
    await session.flush()
    return uploads


# ---------------------------------------------------------------- indicator history and admin statistics
async def indicator_index(session: AsyncSession, user_id: str) -> list[Any]:
    """Per indicator code in the user's reports: its latest value and how many there are, most measured first."""
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
    """(reports, completed, completed with a critical value) per UTC day of [start, end)."""
    day = cast(func.timezone("UTC", Report.created_at), Date)
    q = (select(day.label("day"), func.count(),
                func.count().filter(Report.status == "completed"),
                func.count().filter(Report.status == "completed", Report.critical.is_(True)))
         .where(Report.created_at >= start, Report.created_at < end).group_by(day))
    return {row[0]: (row[1], row[2], row[3]) for row in (await session.execute(q)).all()}
