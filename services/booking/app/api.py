"""Routes only: parse, call the booking service, shape the response."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from redis.exceptions import RedisError

from zhenxi_common.errors import ConflictError, ForbiddenError, error_responses
from zhenxi_common.identity import Identity, current_identity, require_role

from . import errors as E
from .schemas import (AuditOut, BookingIn, BookingOut, BookingPage, BulkWeekIn, BulkWeekOut, Caller, CloseIn,
                      CloseOut, DepartmentOut, DoctorIn, DoctorOut, DoctorPage, HoldIn, HoldOut, HospitalIn,
                      HospitalOut, LookupIn, NotificationOut, ServiceInfo, SessionIn, SessionOut, SessionState,
                      StatsOut, SyncOut, Title, VoucherOut)
from .service import BookingService, PatientInput

router = APIRouter(prefix="/v1", tags=["booking"])
admin_router = APIRouter(prefix="/v1/admin", tags=["booking admin"])
Admin = Annotated[Identity, Depends(require_role("admin"))]


# Dependencies are ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread, a thread hop per
# request that costs more than the lookup itself on a hot path like a rush of hold attempts.
async def get_service(request: Request) -> BookingService:
    return request.app.state.booking


async def get_caller(request: Request) -> Identity:
    return current_identity(request)


Svc = Annotated[BookingService, Depends(get_service)]
CurrentUser = Annotated[Identity, Depends(get_caller)]


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


# ---------------------------------------------------------------- catalogue
@router.get("/departments", response_model=list[DepartmentOut])
async def departments(svc: Svc, _: CurrentUser) -> list[DepartmentOut]:
    """The department taxonomy (the same ids nlp triage suggests)."""
    return [DepartmentOut(id=d.id, name=d.name, name_en=d.name_en) for d in svc.departments.values()]


@router.get("/hospitals", response_model=list[HospitalOut])
async def hospitals(svc: Svc, _: CurrentUser) -> list[dict]:
    """All hospitals."""
    return await svc.list_hospitals()


@router.get("/doctors", response_model=DoctorPage,
            responses=error_responses(E.UnknownDepartmentError, E.InvalidCursorError, E.InvalidDateError))
async def search_doctors(
    svc: Svc, _: CurrentUser,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    hospital: uuid.UUID | None = None,
    department: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    title: Title | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    available: bool = False,
    cursor: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    """Search doctors by Chinese text (name, specialty, bio), hospital, department, title and availability."""
    return await svc.search(q=q, hospital=hospital, department=department, title=title, date_from=date_from,
                            date_to=date_to, available=available, cursor=cursor, limit=limit)


@router.get("/doctors/{doctor_id}", response_model=DoctorOut, responses=error_responses(E.DoctorNotFoundError))
async def get_doctor(doctor_id: uuid.UUID, svc: Svc, _: CurrentUser) -> dict:
    """One doctor."""
    return await svc.get_doctor(doctor_id)


@router.get("/doctors/{doctor_id}/sessions", response_model=list[SessionOut],
            responses=error_responses(E.DoctorNotFoundError, E.InvalidDateError))
async def doctor_sessions(doctor_id: uuid.UUID, svc: Svc, _: CurrentUser, date_from: date | None = None,
                          date_to: date | None = None) -> list[dict]:
    """A doctor's sessions with each one's remaining slots."""
    return await svc.doctor_sessions(doctor_id, date_from, date_to)


@router.get("/sessions/{session_id}", response_model=SessionOut, responses=error_responses(E.SessionNotFoundError))
async def get_session(session_id: uuid.UUID, svc: Svc, _: CurrentUser) -> dict:
    """One session, read from Postgres (any drifted cache entry is rewritten)."""
    return await svc.get_session(session_id)


@router.get("/sessions/{session_id}/fhir", responses=error_responses(E.SessionNotFoundError))
async def session_fhir(session_id: uuid.UUID, svc: Svc, _: CurrentUser) -> dict:
    """The session as FHIR R4: a Bundle of one Schedule and a Slot per sequence number."""
    return await svc.session_fhir(session_id)


@router.get("/sessions/{session_id}/remaining", response_model=SessionState,
            responses=error_responses(E.SessionNotFoundError))
async def session_remaining(session_id: uuid.UUID, svc: Svc, _: CurrentUser) -> dict:
    """The live count of a session, served from Redis for hot sessions (Postgres on a miss)."""
    return await svc.session_state(session_id)


@router.get("/sessions/{session_id}/events", responses={200: {"content": {"text/event-stream": {}}},
                                                        **error_responses(E.SessionNotFoundError)})
async def session_events(session_id: uuid.UUID, request: Request, svc: Svc, _: CurrentUser,
                         max_events: Annotated[int | None, Query(ge=1, le=1000)] = None) -> StreamingResponse:
    """Server-sent events: the session's remaining count now and on every change (clients reconnect after
    the stream's time limit, as SSE clients do)."""
    first = await svc.session_state(session_id, cached=False)
    pubsub = svc.slots.redis.pubsub()
    try:
        await pubsub.subscribe(svc.slots.channel(session_id))
    except RedisError:
        pubsub = None
    settings = svc.settings

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        deadline = time.monotonic() + settings.sse_max_s
        last_beat = time.monotonic()
        try:
            yield b"retry: 3000\n\n"
            yield f"event: remaining\ndata: {json.dumps(first)}\n\n".encode()
            sent += 1
            while (max_events is None or sent < max_events) and time.monotonic() < deadline:
                if await request.is_disconnected():
                    break
                msg = None
                if pubsub is not None:
                    try:
                        # short waits so a closed client or the time limit is noticed within a second
                        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    except RedisError:
                        msg = None
                else:
                    await asyncio.sleep(1.0)
                if msg and msg.get("type") == "message":
                    yield f"event: remaining\ndata: {msg['data'].decode()}\n\n".encode()
                    sent += 1
                elif time.monotonic() - last_beat >= settings.sse_heartbeat_s:
                    last_beat = time.monotonic()
                    yield b": keep-alive\n\n"
        finally:
            if pubsub is not None:
                try:
                    await pubsub.aclose()
                except RedisError:
                    pass

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ---------------------------------------------------------------- holds and bookings
@router.post("/holds", response_model=HoldOut, status_code=201,
             responses=error_responses(E.SessionNotFoundError, E.SessionFullError, E.SessionClosedError,
                                       E.SessionInPastError, E.BookingWindowClosedError, ConflictError))
async def create_hold(body: HoldIn, svc: Svc, user: CurrentUser) -> dict:
    """Hold one slot of a session for a few minutes while the patient fills in their details."""
    return await svc.hold(user.user_id, body.session_id)


@router.delete("/holds/{hold_id}", status_code=204,
               responses=error_responses(E.HoldNotFoundError, E.HoldUsedError))
async def release_hold(hold_id: uuid.UUID, svc: Svc, user: CurrentUser) -> Response:
    """Give a held slot back before it expires."""
    await svc.release_hold(user.user_id, hold_id)
    return Response(status_code=204)


@router.post("/bookings", response_model=BookingOut, status_code=201,
             responses=error_responses(E.InvalidIdNumberError, E.InvalidPhoneError, E.HoldNotFoundError,
                                       E.HoldExpiredError, E.HoldUsedError, E.SessionFullError,
                                       E.SessionClosedError, E.BookingWindowClosedError, E.DailyCapError,
                                       E.DuplicateBookingError, E.NoShowBanError, E.IdempotencyKeyReusedError,
                                       E.HisTimeoutError, E.HisRejectedError))
async def confirm_booking(
    body: BookingIn, svc: Svc, user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                                  pattern=r"^[\x21-\x7e]+$")] = None,
) -> JSONResponse:
    """Confirm a hold into a booking (real name, ID number, mobile); ``Idempotency-Key`` makes retries safe."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode()
    p = body.patient
    status, out = await svc.confirm(user.user_id, body.hold_id, PatientInput(p.name, p.id_number, p.phone),
                                    idempotency_key, canonical)
    return JSONResponse(out, status_code=status)


@router.get("/bookings", response_model=BookingPage, responses=error_responses(E.InvalidCursorError))
async def list_bookings(svc: Svc, user: CurrentUser,
                        cursor: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    """The caller's bookings, newest first."""
    return await svc.list_bookings(user.user_id, cursor, limit)


@router.get("/bookings/{booking_id}", response_model=BookingOut, responses=error_responses(E.BookingNotFoundError))
async def get_booking(booking_id: uuid.UUID, svc: Svc, user: CurrentUser) -> dict:
    """One of the caller's bookings."""
    return await svc.get_booking(user.user_id, booking_id)


@router.get("/bookings/{booking_id}/fhir", responses=error_responses(E.BookingNotFoundError))
async def booking_fhir(booking_id: uuid.UUID, svc: Svc, user: CurrentUser) -> dict:
    """One of the caller's bookings as a FHIR R4 Appointment."""
    return await svc.booking_fhir(user.user_id, booking_id)


@router.get("/bookings/{booking_id}/voucher", response_model=VoucherOut,
            responses={200: {"content": {"image/png": {}}},
                       **error_responses(E.BookingNotFoundError, E.BookingNotActiveError)})
async def voucher(booking_id: uuid.UUID, svc: Svc, user: CurrentUser,
                  format: Literal["json", "png"] = "json") -> Response:
    """The voucher (就诊凭证): JSON, or with ``format=png`` its QR code."""
    v = await svc.voucher(user.user_id, booking_id)
    if format == "png":
        return Response(svc.qr_png(v["qr_payload"]), media_type="image/png")
    return JSONResponse(v)


@router.post("/bookings/{booking_id}:cancel", response_model=BookingOut,
             responses=error_responses(E.BookingNotFoundError, E.BookingNotActiveError, E.CancelDeadlinePassedError,
                                       E.HisTimeoutError, E.HisRejectedError))
async def cancel_booking(booking_id: uuid.UUID, svc: Svc, user: CurrentUser) -> dict:
    """Cancel a booking before the deadline; its slot is released at once."""
    return await svc.cancel(user.user_id, booking_id)


@router.get("/notifications", response_model=list[NotificationOut])
async def notifications(svc: Svc, user: CurrentUser) -> list[dict]:
    """Messages about the caller's bookings (e.g. a session that was closed)."""
    return await svc.notifications(user.user_id)


# ---------------------------------------------------------------- admin
_ADMIN = (ForbiddenError,)


@admin_router.post("/hospitals", response_model=HospitalOut, status_code=201,
                   responses=error_responses(*_ADMIN, ConflictError))
async def admin_create_hospital(body: HospitalIn, svc: Svc, admin: Admin) -> dict:
    """Add a hospital (``provider: his`` with ``his_base_url`` for one with its own booking system)."""
    return await svc.create_hospital(admin.user_id, body.model_dump())


@admin_router.post("/hospitals/{hospital_id}:sync", response_model=SyncOut,
                   responses=error_responses(*_ADMIN, E.HospitalNotFoundError, E.HisTimeoutError,
                                             E.HisRejectedError))
async def admin_sync_hospital(hospital_id: uuid.UUID, svc: Svc, admin: Admin) -> dict:
    """Pull a HIS hospital's doctors and sessions."""
    return await svc.sync_hospital(admin.user_id, hospital_id)


@admin_router.post("/doctors", response_model=DoctorOut, status_code=201,
                   responses=error_responses(*_ADMIN, E.UnknownDepartmentError, E.HospitalNotFoundError))
async def admin_create_doctor(body: DoctorIn, svc: Svc, admin: Admin) -> dict:
    """Add a doctor to a hospital's department."""
    return await svc.create_doctor(admin.user_id, body.model_dump())


@admin_router.post("/sessions", response_model=SessionOut, status_code=201,
                   responses=error_responses(*_ADMIN, E.DoctorNotFoundError, E.InvalidDateError,
                                             E.SessionExistsError))
async def admin_create_session(body: SessionIn, svc: Svc, admin: Admin) -> dict:
    """Open a session (出诊) with a capacity and fee."""
    data = body.model_dump(exclude={"fee"}) | {"fee_cents": round(body.fee * 100)}
    return await svc.create_session(admin.user_id, data)


@admin_router.post("/sessions:bulk-week", response_model=BulkWeekOut, status_code=201,
                   responses=error_responses(*_ADMIN, E.DoctorNotFoundError, E.InvalidDateError))
async def admin_bulk_week(body: BulkWeekIn, svc: Svc, admin: Admin) -> dict:
    """Create a doctor's sessions for a week (existing ones are skipped)."""
    data = body.model_dump(exclude={"fee"}) | {"fee_cents": round(body.fee * 100)}
    return await svc.bulk_week(admin.user_id, data)


@admin_router.post("/sessions/{session_id}:close", response_model=CloseOut,
                   responses=error_responses(*_ADMIN, E.SessionNotFoundError))
async def admin_close_session(session_id: uuid.UUID, body: CloseIn, svc: Svc, admin: Admin) -> dict:
    """Close a session (停诊): its bookings are cancelled and the patients notified."""
    return await svc.close_session(admin.user_id, session_id, body.reason)


@admin_router.post("/bookings:lookup", response_model=list[BookingOut],
                   responses=error_responses(*_ADMIN, E.InvalidIdNumberError, E.InvalidPhoneError,
                                             E.MissingLookupKeyError))
async def admin_lookup(body: LookupIn, svc: Svc, admin: Admin) -> list[dict]:
    """Find bookings by a patient's ID number or phone (blind index); every look-up is audited."""
    if bool(body.id_number) == bool(body.phone):
        raise E.MissingLookupKeyError()
    return await svc.admin_lookup(admin.user_id, id_number=body.id_number, phone=body.phone)


@admin_router.get("/bookings/{booking_id}", response_model=BookingOut,
                  responses=error_responses(*_ADMIN, E.BookingNotFoundError))
async def admin_get_booking(booking_id: uuid.UUID, svc: Svc, admin: Admin) -> dict:
    """Any booking (masked); the look-up is audited."""
    return await svc.admin_get_booking(admin.user_id, booking_id)


@admin_router.post("/bookings/{booking_id}:no-show", response_model=BookingOut,
                   responses=error_responses(*_ADMIN, E.BookingNotFoundError, E.BookingNotActiveError,
                                             E.InvalidDateError))
async def admin_no_show(booking_id: uuid.UUID, svc: Svc, admin: Admin) -> dict:
    """Record that the patient did not come (counts towards a temporary ban)."""
    return await svc.mark_no_show(admin.user_id, booking_id)


@admin_router.get("/audit", response_model=list[AuditOut], responses=error_responses(*_ADMIN))
async def admin_audit(svc: Svc, admin: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    """The admin audit log, newest first."""
    return await svc.audit_log(limit)


@admin_router.get("/stats", response_model=StatsOut, responses=error_responses(*_ADMIN, E.InvalidDateError))
async def admin_stats(svc: Svc, admin: Admin, date_from: date, date_to: date) -> dict:
    """Bookings per department per day, cancellation and no-show rates."""
    return await svc.stats(date_from, date_to)

