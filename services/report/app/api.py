"""Routes only: parse the request, call the report service, shape the response."""
from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from zhenxi_common.db import DbSession
from zhenxi_common.errors import ForbiddenError, InvalidDateRangeError, PayloadTooLargeError, error_responses
from zhenxi_common.identity import CurrentUser, Identity, require_role

from . import render
from .errors import (EmptyFileError, EmptyReportError, FileTooLargeError, ImageNotFoundError, InvalidCursorError,
                     NothingToRetryError,
                     PdfUnavailableError, ReportInProgressError, ReportNotFoundError, ReportNotReadyError,
                     SymptomsTooLongError, TooManyFilesError, UnsupportedMediaTypeError)
from .schemas import Caller, IndicatorHistory, IndicatorIndex, ReportList, ReportOut, ReportStats, ServiceInfo
from .service import IncomingFile, NewReport, ReportService, report_out

router = APIRouter(prefix="/v1", tags=["report"])


def get_reports(request: Request) -> ReportService:
    return request.app.state.reports


Reports = Annotated[ReportService, Depends(get_reports)]
_OWNED = error_responses(ReportNotFoundError)


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


async def _read(files: list[UploadFile] | None, limit: int, field: str) -> list[IncomingFile]:
    out = []
    for pos, f in enumerate(files or []):
        if f.size is not None and f.size > limit:
            raise FileTooLargeError(details={"field": field, "position": pos, "max_bytes": limit})
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise FileTooLargeError(details={"field": field, "position": pos, "max_bytes": limit})
        out.append(IncomingFile(data))
    return out


def _answer(out: ReportOut, status: int, headers: dict[str, str] | None = None,
            background: BackgroundTask | None = None, timing: str | None = None) -> Response:
    """``out`` serialised once by pydantic's own JSON encoder (not ``model_dump`` and ``json.dumps`` again)."""
    t = time.perf_counter()
    body = out.model_dump_json()
    if timing is not None:
        headers = {**(headers or {}), "Server-Timing": f"{timing}, answer;dur={(time.perf_counter() - t) * 1000:.1f}"}
    return Response(body, status_code=status, media_type="application/json", headers=headers, background=background)


@router.post("/reports", response_model=ReportOut, status_code=202, responses={
    200: {"description": "`?wait=true` and the report finished within the wait: the complete report",
          "model": ReportOut},
    **error_responses(EmptyReportError, TooManyFilesError, FileTooLargeError, PayloadTooLargeError, EmptyFileError,
                      UnsupportedMediaTypeError, SymptomsTooLongError)})
async def create_report(
    request: Request, user: CurrentUser, reports: Reports,
    lab: Annotated[list[UploadFile] | None, File(description="lab-report photos (JPEG/PNG/WebP/HEIC/PDF)")] = None,
    xray: Annotated[list[UploadFile] | None, File(description="chest X-rays (PNG/JPEG/DICOM)")] = None,
    symptoms: Annotated[str | None, Form(max_length=2000, description="symptom description")] = None,
    sex: Annotated[Literal["male", "female"] | None, Form()] = None,
    age: Annotated[float | None, Form(ge=0, le=130)] = None,
    medications: Annotated[list[str] | None, Form(description="current medications, one per field")] = None,
    lang: Annotated[Literal["zh", "en"], Form(description="language of the summary")] = "zh",
    wait: Annotated[bool, Query(description="answer when the report is complete (small inputs)")] = False,
) -> Response:
    """Start a report from lab photos, X-rays and/or symptom text; 202 with its id (or 200 with `?wait=true`)."""
    settings = request.app.state.settings
    t0 = time.perf_counter()
    # Count first: refuse too many files before reading any of them.
    if len(lab or []) + len(xray or []) > settings.max_files:
        raise TooManyFilesError(details={"max_files": settings.max_files})
    req = NewReport(lab=await _read(lab, settings.max_file_bytes, "lab"),
                    xray=await _read(xray, settings.max_file_bytes, "xray"), symptoms=symptoms, sex=sex, age=age,
                    medications=[m.strip()[:64] for m in medications or [] if m.strip()][:50], lang=lang)
    report_id, start = await reports.create(user.user_id, req)
    t1 = time.perf_counter()
    if not wait:   # the 202 leaves first; the processing starts right after it is sent
        out = await reports.current(user.user_id, report_id)
        return _answer(out, 202, {"Location": out.links.self}, BackgroundTask(start))
    await start()
    done, out = await reports.wait(report_id, settings.wait_timeout_s)
    t2 = time.perf_counter()
    if out is None:
        out = await reports.current(user.user_id, report_id)
    # Where the request's own time went (W3C Server-Timing; bench/report.py reads it): reading the files and
    # storing + committing the report (create), the processing until committed (wait), the answer.
    timing = f"create;dur={(t1 - t0) * 1000:.1f}, wait;dur={(t2 - t1) * 1000:.1f}"
    return _answer(out, 200 if done else 202, {"Location": out.links.self}, timing=timing)


@router.get("/reports", response_model=ReportList, responses=error_responses(InvalidCursorError))
async def list_reports(session: DbSession, user: CurrentUser, reports: Reports,
                       limit: Annotated[int, Query(ge=1, le=100)] = 20,
                       cursor: Annotated[str | None, Query(max_length=200)] = None) -> ReportList:
    """The caller's reports, newest first, cursor-paginated."""
    items, nxt = await reports.list(session, user.user_id, limit, cursor)
    return ReportList(items=items, next_cursor=nxt)


@router.get("/reports/{report_id}", response_model=ReportOut, responses={
    200: {"description": "JSON (default), or the finished report as HTML, PDF or a FHIR R4 Bundle",
          "content": {"text/html": {}, "application/pdf": {}, "application/fhir+json": {}}},
    **error_responses(ReportNotFoundError, ReportNotReadyError, PdfUnavailableError)})
async def get_report(report_id: uuid.UUID, request: Request, session: DbSession, user: CurrentUser,
                     reports: Reports,
                     format: Annotated[Literal["json", "html", "pdf", "fhir"], Query()] = "json") -> Response:
    """One of the caller's reports: its current state, or the finished report in another format."""
    report, sections = await reports.get(session, user.user_id, report_id)
    if format == "json":
        return JSONResponse(report_out(report, sections).model_dump(mode="json"))
    if report.status != "completed":
        raise ReportNotReadyError(details={"status": report.status})
    images = await reports.derived_images(session, report)
    if format == "html":
        return Response(render.html(report.body, images), media_type="text/html; charset=utf-8")
    if format == "pdf":
        font = request.app.state.settings.font_path()
        if font is None:
            raise PdfUnavailableError()
        pdf = await render.pdf_async(report.body, images, font)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="zhenxi-report-{report.id}.pdf"'})
    return JSONResponse(render.fhir(report.body, report.user_id), media_type="application/fhir+json")


@router.get("/reports/{report_id}/images/{image_id}", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **error_responses(ReportNotFoundError, ImageNotFoundError)})
async def get_image(report_id: uuid.UUID, image_id: uuid.UUID, session: DbSession, user: CurrentUser,
                    reports: Reports) -> Response:
    """A derived image of the report (mask overlay with nodule boxes, or a finding's heatmap)."""
    data = await reports.image(session, user.user_id, report_id, str(image_id))
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.delete("/reports/{report_id}", status_code=204, response_class=Response,
               responses=error_responses(ReportNotFoundError, ReportInProgressError))
async def delete_report(report_id: uuid.UUID, user: CurrentUser, reports: Reports) -> Response:
    """Delete the report with its stored uploads and derived images (right to be forgotten)."""
    await reports.delete(user.user_id, report_id)
    return Response(status_code=204)


@router.post("/reports/{report_id}:retry", response_model=ReportOut, status_code=202,
             responses={200: {"description": "`?wait=true` and the retry finished", "model": ReportOut},
                        **error_responses(ReportNotFoundError, ReportInProgressError, NothingToRetryError)})
async def retry_report(report_id: uuid.UUID, request: Request, user: CurrentUser, reports: Reports,
                       wait: Annotated[bool, Query()] = False) -> Response:
    """Run the report's unavailable sections again (after a service came back)."""
    rid = report_id
    await reports.retry(user.user_id, rid)
    done, out = (await reports.wait(rid, request.app.state.settings.wait_timeout_s)) if wait else (False, None)
    if out is None:
        out = await reports.current(user.user_id, rid)
    return _answer(out, 200 if done else 202)


@router.get("/reports/{report_id}/events", responses={200: {"content": {"text/event-stream": {}}}, **_OWNED})
async def report_events(report_id: uuid.UUID, request: Request, session: DbSession, user: CurrentUser,
                        reports: Reports) -> StreamingResponse:
    """Server-Sent Events: each section's progress (`lab: running`, `xray: done`…), then the report's status."""
    report, _ = await reports.get(session, user.user_id, report_id)
    return StreamingResponse(reports.events(report.id, request.is_disconnected), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ---------------------------------------------------------------- indicator history (trend charts over time)
@router.get("/indicators", response_model=IndicatorIndex)
async def list_indicators(session: DbSession, user: CurrentUser, reports: Reports) -> IndicatorIndex:
    """The indicators measured in the caller's reports, each with its count and latest value."""
    return await reports.indicator_index(session, user.user_id)


# Codes are the knowledge base's own (NEUT%, BASO#, A/G, Lp(a), β-hCG): any non-blank text, '/' included, which
# clients send percent-encoded; the ``path`` converter keeps a decoded '/' inside the code.
@router.get("/indicators/{code:path}/history", response_model=IndicatorHistory)
async def indicator_history(session: DbSession, user: CurrentUser, reports: Reports,
                            code: Annotated[str, Path(max_length=64, pattern=r"^\S+$")],
                            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> IndicatorHistory:
    """One indicator's values across the caller's reports, oldest first (empty when never measured)."""
    return await reports.indicator_history(session, user.user_id, code, limit)


# ---------------------------------------------------------------- admin
admin_router = APIRouter(prefix="/v1/admin", tags=["report admin"])
Admin = Annotated[Identity, Depends(require_role("admin"))]


@admin_router.get("/stats", response_model=ReportStats,
                  responses=error_responses(ForbiddenError, InvalidDateRangeError))
async def report_stats(session: DbSession, _: Admin, reports: Reports, date_from: date, date_to: date) -> ReportStats:
    """Reports per day (UTC) in [date_from, date_to], completed ones and those with a critical value."""
    return await reports.stats(session, date_from, date_to)
