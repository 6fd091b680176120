"""Routes of the reminders service: parse, call ``Reminders``, shape the response."""
from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from icalendar import Alarm, Calendar, Event as IcsEvent

from zhenxi_common.db import DbSession
from zhenxi_common.errors import ForbiddenError, InvalidDateRangeError, error_responses
from zhenxi_common.identity import CurrentUser, Identity, require_role

from . import repository as repo
from .channels import stream_channel
from .errors import (AlreadyRecordedError, CalendarTokenInvalidError, EndBeforeStartError, ConsentNotFoundError, DeviceNotFoundError,
                     FieldError, ImportInvalidError, NotRecordableError, OccurrenceNotFoundError, PlanInPastError,
                     PlanNotFoundError, PreconditionInvalidError, PrnTooSoonError, VersionConflictError,
                     WebhookHostNotAllowedError)
from .schemas import (AdherenceOut, AdherenceStats, AdviceOut, CalendarTokenOut, Caller, ConsentIn, ConsentList,
                      ConsentOut, DeviceCreated, DeviceIn, DeviceList, ExportDoc, ImportOut, OccurrenceList,
                      OccurrenceOut, PlanCreate, PlanList, PlanOut, PlanPatch, PrnDoseIn, RecordIn, ServiceInfo, SyncOut)
from .service import Reminders

router = APIRouter(prefix="/v1", tags=["reminders"])
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=32, pattern=r'^(W/)?"?\d{1,9}"?$',
                                       description="the version you last saw; stale -> 409 with the current state")]


def svc(request: Request) -> Reminders:
    return request.app.state.reminders


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().removeprefix("W/").strip('"')
    if not v.isdigit():
        raise PreconditionInvalidError("If-Match")
    return int(v)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.get("/info", response_model=ServiceInfo)
async def info(request: Request, user: CurrentUser) -> ServiceInfo:
    """Service name, version and the caller as the gateway identified them."""
    return ServiceInfo(service=request.app.state.settings.service_name, version=request.app.version,
                       caller=Caller(user_id=user.user_id, role=user.role))


# ---- plans ------------------------------------------------------------------------------------------------------
@router.post("/plans", response_model=PlanOut, status_code=201,
             responses=error_responses(PlanInPastError, WebhookHostNotAllowedError))
async def create_plan(body: PlanCreate, request: Request, response: Response, session: DbSession,
                      user: CurrentUser) -> PlanOut:
    """Create a medication plan; its occurrences are expanded to the rolling horizon."""
    plan = await svc(request).create_plan(session, user.user_id, body)
    _etag(response, plan.version)
    return svc(request).plan_out(plan)


@router.get("/plans", response_model=PlanList)
async def list_plans(request: Request, session: DbSession, user: CurrentUser) -> PlanList:
    """The caller's plans."""
    return PlanList(plans=[svc(request).plan_out(p) for p in await repo.list_plans(session, user.user_id)])


@router.get("/plans/{plan_id}", response_model=PlanOut, responses=error_responses(PlanNotFoundError))
async def get_plan(plan_id: uuid.UUID, request: Request, response: Response, session: DbSession,
                   user: CurrentUser) -> PlanOut:
    """One plan, with its refill forecast."""
    plan = await svc(request).get_plan(session, user.user_id, plan_id)
    _etag(response, plan.version)
    return svc(request).plan_out(plan)


@router.patch("/plans/{plan_id}", response_model=PlanOut,
              responses=error_responses(PlanNotFoundError, VersionConflictError, PlanInPastError, EndBeforeStartError, FieldError,
                                        PreconditionInvalidError, WebhookHostNotAllowedError))
async def patch_plan(plan_id: uuid.UUID, body: PlanPatch, request: Request, response: Response, session: DbSession,
                     user: CurrentUser, if_match: IfMatch = None) -> PlanOut:
    """Change a plan (only the fields sent); future occurrences are re-expanded when the schedule changes."""
    plan = await svc(request).patch_plan(session, user.user_id, plan_id, body, parse_if_match(if_match))
    _etag(response, plan.version)
    return svc(request).plan_out(plan)


@router.delete("/plans/{plan_id}", status_code=204,
               responses=error_responses(PlanNotFoundError, VersionConflictError, PreconditionInvalidError))
async def delete_plan(plan_id: uuid.UUID, request: Request, session: DbSession, user: CurrentUser,
                      if_match: IfMatch = None) -> Response:
    """Delete a plan (a tombstone is kept for sync); its pending reminders stop."""
    await svc(request).delete_plan(session, user.user_id, plan_id, parse_if_match(if_match))
    return Response(status_code=204)


@router.post("/plans/{plan_id}/doses", response_model=OccurrenceOut, status_code=201,
             responses=error_responses(PlanNotFoundError, PrnTooSoonError, FieldError))
async def take_prn(plan_id: uuid.UUID, body: PrnDoseIn, request: Request, session: DbSession,
                   user: CurrentUser) -> OccurrenceOut:
    """Record an as-needed (PRN) dose; refused when it comes before the plan's minimum interval."""
    occ = await svc(request).take_prn(session, user.user_id, plan_id, body.at)
    return svc(request).occurrence_out(occ)


# ---- occurrences ------------------------------------------------------------------------------------------------
@router.get("/occurrences", response_model=OccurrenceList, responses=error_responses(FieldError))
async def list_occurrences(request: Request, session: DbSession, user: CurrentUser,
                           from_: Annotated[datetime | None, Query(alias="from")] = None,
                           to: Annotated[datetime | None, Query()] = None,
                           limit: Annotated[int, Query(ge=1, le=2000)] = 500) -> OccurrenceList:
    """Occurrences due in [from, to) (default: the next 24 hours) with their state and every delivery."""
    for name, value in (("from", from_), ("to", to)):
        if value is not None and (value.tzinfo is None or not 2000 <= value.year <= 2100):
            raise FieldError(name, "时间需带时区且在 2000–2100 年之间。 Times need a UTC offset and must fall in 2000-2100.")
    start = from_ or datetime.now(UTC)
    end = to or start + timedelta(days=1)
    if end <= start:
        raise FieldError("to", "to 必须晚于 from。 'to' must be after 'from'.")
    if end - start > timedelta(days=400):
        raise FieldError("to", "时间范围最多400天。 The window is at most 400 days.")
    occs = await repo.list_occurrences(session, user.user_id, start, end, limit)
    deliveries = await repo.deliveries_for(session, [o.id for o in occs])
    return OccurrenceList(occurrences=[svc(request).occurrence_out(o, deliveries[o.id]) for o in occs])


@router.get("/occurrences/{occurrence_id}", response_model=OccurrenceOut,
            responses=error_responses(OccurrenceNotFoundError))
async def get_occurrence(occurrence_id: uuid.UUID, request: Request, session: DbSession,
                         user: CurrentUser) -> OccurrenceOut:
    """One occurrence with its deliveries."""
    occ = await svc(request).get_occurrence(session, user.user_id, occurrence_id)
    return svc(request).occurrence_out(occ, (await repo.deliveries_for(session, [occ.id]))[occ.id])


@router.post("/occurrences/{occurrence_id}:record", response_model=OccurrenceOut,
             responses=error_responses(OccurrenceNotFoundError, AlreadyRecordedError, NotRecordableError,
                                       FieldError, PreconditionInvalidError))
async def record(occurrence_id: uuid.UUID, body: RecordIn, request: Request, response: Response,
                 session: DbSession, user: CurrentUser, if_match: IfMatch = None) -> OccurrenceOut:
    """Record a dose taken (taken_late when late) or skipped; replaying the same record is a no-op."""
    occ, _ = await svc(request).record(session, user.user_id, occurrence_id, body, parse_if_match(if_match))
    _etag(response, occ.version)
    return svc(request).occurrence_out(occ)


@router.get("/occurrences/{occurrence_id}/advice", response_model=AdviceOut,
            responses=error_responses(OccurrenceNotFoundError, NotRecordableError))
async def advice(occurrence_id: uuid.UUID, request: Request, session: DbSession, user: CurrentUser) -> AdviceOut:
    """What to do about this (missed) dose now, and the rule that says so. Never a double dose."""
    return await svc(request).advice(session, user.user_id, occurrence_id)


# ---- adherence ----------------------------------------------------------------------------------------------------
@router.get("/adherence", response_model=AdherenceOut, responses=error_responses(ConsentNotFoundError))
async def adherence(request: Request, session: DbSession, user: CurrentUser,
                    days: Annotated[Literal["7", "30", "90"], Query()] = "30",
                    user_id: Annotated[str | None, Query(min_length=1, max_length=64,
                                                         description="a family member's id (needs their consent)")] = None
                    ) -> AdherenceOut:
    """Proportion of doses taken, day streaks and per-drug history; a family member needs the patient's consent."""
    return await svc(request).adherence(session, user.user_id, user_id or user.user_id, int(days))


@router.post("/consents", response_model=ConsentOut, status_code=201, responses=error_responses(FieldError))
async def grant(body: ConsentIn, request: Request, session: DbSession, user: CurrentUser) -> ConsentOut:
    """Let a family member see your adherence."""
    return svc(request).consent_out(await svc(request).grant(session, user.user_id, body.grantee_id, body.scope))


@router.get("/consents", response_model=ConsentList)
async def list_consents(request: Request, session: DbSession, user: CurrentUser) -> ConsentList:
    """Your consent grants, revoked ones included."""
    return ConsentList(consents=[svc(request).consent_out(c) for c in await repo.list_consents(session, user.user_id)])


@router.delete("/consents/{consent_id}", response_model=ConsentOut, responses=error_responses(ConsentNotFoundError))
async def revoke(consent_id: uuid.UUID, request: Request, session: DbSession, user: CurrentUser) -> ConsentOut:
    """Revoke a consent grant."""
    return svc(request).consent_out(await svc(request).revoke(session, user.user_id, consent_id))


# ---- devices and channels -------------------------------------------------------------------------------------------
@router.post("/devices", response_model=DeviceCreated, status_code=201,
             responses=error_responses(WebhookHostNotAllowedError))
async def add_device(body: DeviceIn, request: Request, session: DbSession, user: CurrentUser) -> DeviceCreated:
    """Register a webhook (allowlisted hosts only; its signing secret is returned once) or a WeChat openid."""
    s = svc(request)
    d = await s.add_device(session, user.user_id, body.kind, body.url if body.kind == "webhook" else body.openid)
    return DeviceCreated(**s.device_out(d).model_dump(), secret=s.cipher.decrypt(d.secret_enc))


@router.get("/devices", response_model=DeviceList)
async def list_devices(request: Request, session: DbSession, user: CurrentUser) -> DeviceList:
    """Your registered devices."""
    return DeviceList(devices=[svc(request).device_out(d) for d in await repo.list_devices(session, user.user_id)])


@router.delete("/devices/{device_id}", status_code=204, responses=error_responses(DeviceNotFoundError))
async def delete_device(device_id: uuid.UUID, request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Remove a device."""
    await svc(request).delete_device(session, user.user_id, device_id)
    return Response(status_code=204)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "reminders as Server-Sent Events"}})
async def stream(request: Request, user: CurrentUser,
                 max_events: Annotated[int | None, Query(ge=1, le=1000)] = None,
                 heartbeat_s: Annotated[float, Query(ge=1, le=20)] = 15.0,
                 max_duration_s: Annotated[float, Query(ge=1, le=55)] = 25.0,
                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", pattern=r"^\d{1,15}$",
                                                             description="sent by EventSource on reconnect")] = None
                 ) -> StreamingResponse:
    """Reminders for the caller as Server-Sent Events (``event: reminder``, id = send time in ms); comments keep
    the connection alive. The stream ends after ``max_duration_s`` and EventSource reconnects with
    ``Last-Event-ID``: reminders sent in between and still unacknowledged are replayed first."""
    redis = request.app.state.redis
    channel = stream_channel(request.app.state.settings.redis_key_prefix, user.user_id)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)   # before the replay query, so nothing falls between the two
    replay: list[dict] = []
    if last_event_id is not None:
        since = max(datetime.fromtimestamp(int(last_event_id) / 1000, UTC), datetime.now(UTC) - timedelta(days=1))
        async with request.app.state.sessionmaker() as session:
            replay = await svc(request).unacknowledged_since(session, user.user_id, since)

    def frame(data: str) -> str:
        head = json.loads(data)
        ms = int(datetime.fromisoformat(head["fired_at"]).timestamp() * 1000)
        return f"event: reminder\nid: {ms}\ndata: {data}\n\n"

    async def events():
        sent = 0
        ends = asyncio.get_running_loop().time() + max_duration_s
        try:
            yield "retry: 3000\n: connected\n\n"
            seen = set()
            for item in replay:
                if max_events is not None and sent >= max_events:
                    break
                seen.add((item["occurrence_id"], item["attempt"]))
                sent += 1
                yield frame(json.dumps(item, ensure_ascii=False))
            while (max_events is None or sent < max_events) and asyncio.get_running_loop().time() < ends:
                if await request.is_disconnected():
                    break
                wait = min(heartbeat_s, max(0.05, ends - asyncio.get_running_loop().time()))
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                if msg is None:
                    yield ": keep-alive\n\n"
                    continue
                data = msg["data"].decode() if isinstance(msg["data"], bytes) else msg["data"]
                head = json.loads(data)
                if (head["occurrence_id"], head["attempt"]) in seen:   # already replayed
                    continue
                sent += 1
                yield frame(data)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
                await pubsub.aclose()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/calendar/token", response_model=CalendarTokenOut, status_code=201)
async def calendar_token(request: Request, session: DbSession, user: CurrentUser) -> CalendarTokenOut:
    """A new secret calendar-feed link (earlier links stop working)."""
    token = await svc(request).new_calendar_token(session, user.user_id)
    return CalendarTokenOut(token=token, url=f"/v1/calendar.ics?token={token}")


@router.delete("/calendar/token", status_code=204)
async def revoke_calendar_token(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Revoke every calendar-feed link."""
    await repo.revoke_calendar_tokens(session, user.user_id, datetime.now(UTC))
    return Response(status_code=204)


@router.get("/calendar.ics", response_class=Response, responses={
    200: {"content": {"text/calendar": {}}, "description": "iCalendar feed"},
    **error_responses(CalendarTokenInvalidError)})
async def calendar(request: Request, session: DbSession,
                   token: Annotated[str, Query(min_length=20, max_length=100)]) -> Response:
    """The caller's upcoming doses and visits as an iCalendar feed; the token in the link is the credential."""
    user_id = await repo.calendar_user(session, svc(request).token_hash(token))
    if user_id is None:
        raise CalendarTokenInvalidError()
    now = datetime.now(UTC)
    occs = await repo.list_occurrences(session, user_id, now - timedelta(days=1),
                                       now + timedelta(days=svc(request).settings.horizon_days), 5000)
    plans = {p.id: p for p in await repo.list_plans(session, user_id)}
    cal = Calendar()
    cal.add("prodid", "-//Zhenxi//reminders//ZH")
    cal.add("version", "2.0")
    cipher = svc(request).cipher
    for o in occs:
        plan = plans.get(o.plan_id) if o.plan_id else None
        if o.kind == "dose" and plan is None:
            continue
        ev = IcsEvent()
        ev.add("uid", f"{o.id}@reminders.zhenxi")
        ev.add("dtstamp", now)
        ev.add("dtstart", o.due_at)
        ev.add("dtend", o.due_at + timedelta(minutes=15))
        title = {"visit": "就诊提醒 Visit", "refill": "续药提醒 Refill"}.get(o.kind)
        if plan is not None:
            title = (f"{title}: " if title else "") + f"{cipher.decrypt(plan.drug_enc)} {plan.dose:g}{plan.unit}"
        ev.add("summary", title or "提醒 Reminder")
        ev.add("status", "CONFIRMED")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", title or "提醒 Reminder")
        alarm.add("trigger", timedelta(0))
        ev.add_component(alarm)
        cal.add_component(ev)
    return Response(cal.to_ical(), media_type="text/calendar; charset=utf-8")


# ---- sync and backup ------------------------------------------------------------------------------------------------
@router.get("/sync", response_model=SyncOut)
async def sync(request: Request, session: DbSession, user: CurrentUser,
               since: Annotated[int, Query(ge=0, le=2**62)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> SyncOut:
    """Changes since a cursor (the last ``cursor`` you got): current state of each changed resource, or a tombstone."""
    cursor, changes, more = await svc(request).sync(session, user.user_id, since, limit)
    return SyncOut(cursor=cursor, changes=changes, has_more=more)


@router.get("/export", response_model=ExportDoc)
async def export(request: Request, session: DbSession, user: CurrentUser) -> JSONResponse:
    """Your plans, dose records, devices and consents as one JSON document (backup, new phone)."""
    return JSONResponse(await svc(request).export(session, user.user_id))


@router.post("/import", response_model=ImportOut,
             responses=error_responses(ImportInvalidError, WebhookHostNotAllowedError, FieldError))
async def import_(request: Request, session: DbSession, user: CurrentUser,
                  doc: Annotated[ExportDoc, Body()]) -> ImportOut:
    """Restore an export into your account; importing the same document twice changes nothing."""
    return ImportOut(**await svc(request).import_(session, user.user_id, doc.model_dump(mode="json")))


# ---- admin --------------------------------------------------------------------------------------------------------
admin_router = APIRouter(prefix="/v1/admin", tags=["reminders admin"])
Admin = Annotated[Identity, Depends(require_role("admin"))]


@admin_router.get("/adherence", response_model=AdherenceStats,
                  responses=error_responses(ForbiddenError, InvalidDateRangeError))
async def adherence_stats(request: Request, session: DbSession, _: Admin, date_from: date, date_to: date
                          ) -> AdherenceStats:
    """Doses per patient-local day in [date_from, date_to] by outcome, and the share taken."""
    return await svc(request).adherence_stats(session, date_from, date_to)
