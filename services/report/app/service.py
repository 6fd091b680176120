"""The report use cases: create (store uploads first), read, list, delete, retry, progress. No FastAPI here."""
from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import anyio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common import cursors
from zhenxi_common.errors import InvalidDateRangeError
from zhenxi_common.filetypes import sniff

from . import repository
from .errors import (EmptyFileError, EmptyReportError, FileTooLargeError, ImageNotFoundError, InvalidCursorError,
                     NothingToRetryError, ReportInProgressError, ReportNotFoundError, SymptomsTooLongError,
                     TooManyFilesError, UnsupportedMediaTypeError)
from .models import Report, Section
from .schemas import (IndicatorHistory, IndicatorIndex, IndicatorPoint, IndicatorSeen, Links, ReportDay, ReportOut,
                      ReportStats, ReportSummary, SectionState)
from .store import Sealer, UploadStore
from .fanout import FileInput, ReportInputs
from .worker import OWN_CONNECTION, ReportEngine, inputs_aad, release

LAB_TYPES = ("jpeg", "png", "webp", "heic", "pdf")
MAX_STATS_DAYS = 366
XRAY_TYPES = ("jpeg", "png", "dicom")
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic",
                 "pdf": "application/pdf", "dicom": "application/dicom"}


@dataclass
class IncomingFile:
    data: bytes
    declared_size: int | None = None


@dataclass
class NewReport:
    lab: list[IncomingFile]
    xray: list[IncomingFile]
    symptoms: str | None
    sex: str | None
    age: float | None
    medications: list[str]
    lang: str


def _links(report_id: uuid.UUID) -> Links:
    base = f"/v1/reports/{report_id}"
    return Links(self=base, events=f"{base}/events", retry=f"{base}:retry")


def _states(sections: list[Section]) -> list[SectionState]:
    return [SectionState(kind=s.kind, status=s.status, reason=s.reason, runs=s.runs) for s in sections]


def _status(report: Report, sections: list[Section]) -> str:
    if report.status == "pending" and any(s.status != "pending" for s in sections):
        return "running"
    return report.status


def report_out(report: Report, sections: list[Section]) -> ReportOut:
    return ReportOut(id=str(report.id), status=_status(report, sections), lang=report.lang,
                     created_at=report.created_at, completed_at=report.completed_at, urgency=report.urgency,
                     urgent=report.critical, sections=_states(sections), links=_links(report.id),
                     report=report.body if report.status == "completed" else None)


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ReportNotFoundError() from None


def encode_cursor(r: Report) -> str:
    return cursors.encode([r.created_at.isoformat(), str(r.id)])


def decode_cursor(raw: str) -> tuple[datetime, uuid.UUID]:
    try:
        ts, rid = cursors.decode(raw)
        return datetime.fromisoformat(ts), uuid.UUID(rid)
    except (ValueError, TypeError):
        raise InvalidCursorError() from None


class ReportService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], store: UploadStore, sealer: Sealer,
                 engine: ReportEngine, *, max_files: int, max_file_bytes: int, max_symptom_chars: int) -> None:
        self.sessionmaker = sessionmaker
        self.store = store
        self.sealer = sealer
        self.engine = engine
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.max_symptom_chars = max_symptom_chars

    # ------------------------------------------------------------------ create
    def check(self, req: NewReport) -> list[tuple[str, int, bytes, str]]:
        """Refuse bad input before anything is stored; returns (kind, position, data, type) per file."""
        symptoms = (req.symptoms or "").strip()
        if not req.lab and not req.xray and not symptoms:
            raise EmptyReportError()
        if len(symptoms) > self.max_symptom_chars:
            raise SymptomsTooLongError(details={"max_chars": self.max_symptom_chars})
        if len(req.lab) + len(req.xray) > self.max_files:
            raise TooManyFilesError(details={"max_files": self.max_files})
        out = []
        for kind, files, allowed in (("lab", req.lab, LAB_TYPES), ("xray", req.xray, XRAY_TYPES)):
            for pos, f in enumerate(files):
                if len(f.data) > self.max_file_bytes:
                    raise FileTooLargeError(details={"field": kind, "position": pos, "max_bytes": self.max_file_bytes})
                if not f.data:
                    raise EmptyFileError(details={"field": kind, "position": pos})
                t = sniff(f.data)
                if t not in allowed:
                    raise UnsupportedMediaTypeError(details={"field": kind, "position": pos, "allowed": list(allowed)})
                out.append((kind, pos, f.data, t))
        return out

    async def create(self, user_id: str, req: NewReport) -> tuple[uuid.UUID, Callable[[], Awaitable[None]]]:
        """Store the uploads and commit the report. Returns its id and ``start``: hands the report to this
        replica's engine (claimed at once when a worker slot is free). Until ``start`` is called the report is
        in the queue like any other, so a caller that never calls it loses nothing: a poll picks it up."""
        files = self.check(req)
        symptoms = (req.symptoms or "").strip() or None
        kinds = [k for k, present in (("lab", req.lab), ("xray", req.xray), ("symptoms", symptoms)) if present]
        # Uploads are on disk (encrypted, fsynced) before the report row commits: a committed report never lacks
        # its files. The rows are inserted while the files are written (their addresses are the content hashes,
        # known up front); the commit waits for both, and a failed write rolls the rows back.
        shas = [hashlib.sha256(data).hexdigest() for _, _, data, _ in files]
        report_id = uuid.uuid4()
        sealed = self.sealer.seal(json.dumps({"symptoms": symptoms, "sex": req.sex, "age": req.age,
                                              "medications": req.medications}).encode(), inputs_aad(report_id))

        async def put(data: bytes, sha: str) -> None:
            await anyio.to_thread.run_sync(self.store.put, user_id, data, sha)

        # One connection for the create and the claim that follows it (one pool check-out and pre-ping).
        conn = await self.sessionmaker.kw["bind"].connect()
        session = self.sessionmaker(bind=conn)
        session.info[OWN_CONNECTION] = conn
        try:
            async with session.begin():
                async with anyio.create_task_group() as tg:   # the writes (and their fsyncs) overlap the inserts
                    for (_, _, data, _), sha in zip(files, shas):
                        tg.start_soon(put, data, sha)
                    report = await repository.add_report(
                        session, report_id=report_id, user_id=user_id, lang=req.lang, inputs_enc=sealed,
                        kinds=kinds, uploads=[{"kind": kind, "position": pos, "sha256": sha, "size_bytes": len(data),
                                               "content_type": CONTENT_TYPES[t]}
                                              for (kind, pos, data, t), sha in zip(files, shas)])
        except BaseException:
            await release(session)
            raise
        # Committed: the report is durable and any replica may take it. This one claims it at once if it can,
        # processing the inputs it already holds (the engine owns the session from here).
        inputs = ReportInputs(symptoms=symptoms, sex=req.sex, age=req.age, medications=list(req.medications),
                              lang=req.lang)
        for kind, pos, data, t in files:
            getattr(inputs, kind).append(FileInput(pos, data, f"{kind}-{pos}", CONTENT_TYPES[t]))

        async def start() -> None:
            await self.engine.accept(session, report, inputs, kinds)
        return report_id, start

    async def wait(self, report_id: uuid.UUID, timeout_s: float) -> tuple[bool, ReportOut | None]:
        """Whether the report finished within ``timeout_s`` and, when this replica finished it, the answer as
        committed (else None: read it with ``current``)."""
        async def is_done() -> bool:
            async with self.sessionmaker() as s:
                r = await s.get(Report, report_id)
                return r is None or r.status in ("completed", "failed")
        done, finished = await self.engine.wait_done(report_id, timeout_s, is_done)
        return done, (report_out(*finished) if finished is not None else None)

    # ------------------------------------------------------------------ read
    async def get(self, session: AsyncSession, user_id: str, report_id: uuid.UUID) -> tuple[Report, list[Section]]:
        report = await repository.get_owned(session, report_id, user_id)
        if report is None:
            raise ReportNotFoundError()
        return report, (await repository.sections_of(session, [report.id]))[report.id]

    async def current(self, user_id: str, report_id: uuid.UUID) -> ReportOut:
        """The report as it stands now, read in a fresh session (after a create, retry or wait)."""
        async with self.sessionmaker() as session:
            return report_out(*await self.get(session, user_id, report_id))

    async def list(self, session: AsyncSession, user_id: str, limit: int, cursor: str | None
                   ) -> tuple[list[ReportSummary], str | None]:
        after = decode_cursor(cursor) if cursor else None
        rows = await repository.list_owned(session, user_id, limit + 1, after)
        page, more = rows[:limit], len(rows) > limit
        secs = await repository.sections_of(session, [r.id for r in page])
        items = [ReportSummary(id=str(r.id), status=_status(r, secs[r.id]), created_at=r.created_at,
                               report_date=r.report_date, urgency=r.urgency, urgent=r.critical,
                               sections=_states(secs[r.id])) for r in page]
        return items, encode_cursor(page[-1]) if more and page else None

    # ------------------------------------------------------------------ indicator history, statistics
    async def indicator_index(self, session: AsyncSession, user_id: str) -> IndicatorIndex:
        """The indicators measured in the user's reports, each with its count and latest value."""
        names = self.engine.kb.indicator_names
        return IndicatorIndex(items=[
            IndicatorSeen(code=r.code, name=names(r.code)[0], name_en=names(r.code)[1], count=r.n,
                          last_taken_at=r.taken_at, last_value=r.value, last_unit=r.unit, last_flag=r.flag)
            for r in await repository.indicator_index(session, user_id)])

    async def indicator_history(self, session: AsyncSession, user_id: str, code: str, limit: int
                                ) -> IndicatorHistory:
        """One indicator's values across the user's reports, oldest first (empty when never measured)."""
        name, name_en = self.engine.kb.indicator_names(code)
        points = [IndicatorPoint(report_id=str(v.report_id), taken_at=v.taken_at, value=v.value, unit=v.unit,
                                 flag=v.flag)
                  for v in await repository.indicator_points(session, user_id, code, limit)]
        return IndicatorHistory(code=code, name=name, name_en=name_en, points=points)

    async def stats(self, session: AsyncSession, date_from: date, date_to: date) -> ReportStats:
        """Reports per UTC day in [date_from, date_to], completed ones and those with a critical value."""
        days = InvalidDateRangeError.days(date_from, date_to, max_days=MAX_STATS_DAYS)
        start = datetime.combine(date_from, time.min, tzinfo=timezone.utc)
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=timezone.utc)
        found = await repository.report_days(session, start, end)
        per_day = [ReportDay(date=d, reports=n, completed=c, critical=k)
                   for d in days for n, c, k in [found.get(d, (0, 0, 0))]]
        completed = sum(d.completed for d in per_day)
        critical = sum(d.critical for d in per_day)
        return ReportStats(per_day=per_day, total=sum(d.reports for d in per_day), completed=completed,
                           critical=critical, critical_share=round(critical / completed, 4) if completed else 0.0)

    async def image(self, session: AsyncSession, user_id: str, report_id: uuid.UUID, image_id: str) -> bytes:
        await self.get(session, user_id, report_id)
        for up in await repository.uploads_of(session, report_id, ("derived",)):
            if str(up.id) == image_id:
                return await anyio.to_thread.run_sync(self.store.get, user_id, up.sha256)
        raise ImageNotFoundError()

    async def derived_images(self, session: AsyncSession, report: Report) -> dict[str, bytes]:
        out = {}
        for up in await repository.uploads_of(session, report.id, ("derived",)):
            out[str(up.id)] = await anyio.to_thread.run_sync(self.store.get, report.user_id, up.sha256)
        return out

    # ------------------------------------------------------------------ delete / retry
    async def delete(self, user_id: str, report_id: uuid.UUID) -> None:
        """The report, its sections, indicator values, uploads and derived images. A report being processed
        right now holds its row lock: that answers 409 (retry in a moment) rather than waiting."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(text("SET LOCAL lock_timeout = '2s'"))
            report = await repository.get_owned(session, report_id, user_id)
            if report is None:
                raise ReportNotFoundError()
            try:
                uploads = await repository.delete_report(session, report)
            except DBAPIError as exc:
                if "lock" in str(exc.orig).lower():
                    raise ReportInProgressError(headers={"Retry-After": "5"}) from None
                raise
            still_used = {u.sha256 for u in uploads if await repository.sha_still_used(session, user_id, u.sha256)}
        for sha in {u.sha256 for u in uploads} - still_used:
            await anyio.to_thread.run_sync(self.store.delete, user_id, sha)

    async def retry(self, user_id: str, report_id: uuid.UUID) -> None:
        async with self.sessionmaker() as session, session.begin():
            report = await repository.get_owned(session, report_id, user_id)
            if report is None:
                raise ReportNotFoundError()
            if report.status == "pending":
                raise ReportInProgressError()
            if not await repository.reset_unavailable(session, report):
                raise NothingToRetryError()
        self.engine.wake()

    # ------------------------------------------------------------------ progress (SSE)
    async def events(self, report_id: uuid.UUID, is_disconnected: Callable[[], Awaitable[bool]],
                     poll_s: float = 0.3, max_s: float = 600.0) -> AsyncIterator[bytes]:
        seen: dict[str, tuple[str, Any]] = {}
        seq = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        while loop.time() < deadline:
            async with self.sessionmaker() as s:
                report = await s.get(Report, report_id)
                if report is None:
                    yield b"event: deleted\ndata: {}\n\n"
                    return
                sections = (await repository.sections_of(s, [report_id]))[report_id]
            for sec in sections:
                key = (sec.status, sec.reason)
                if seen.get(sec.kind) != key:
                    seen[sec.kind] = key
                    seq += 1
                    data = {"section": sec.kind, "status": sec.status, "reason": sec.reason}
                    yield f"id: {seq}\nevent: section\ndata: {json.dumps(data)}\n\n".encode()
            if report.status in ("completed", "failed"):
                seq += 1
                data = {"status": report.status, "urgency": report.urgency, "urgent": report.critical}
                yield f"id: {seq}\nevent: report\ndata: {json.dumps(data)}\n\n".encode()
                return
            if await is_disconnected():
                return
            await asyncio.sleep(poll_s)
