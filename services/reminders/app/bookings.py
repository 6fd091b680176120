"""Visit reminders from ``booking.created.v1``: the evening before (20:00) and two hours before the visit window,
in the hospital's zone; ``booking.cancelled.v1`` withdraws those not sent yet. Consumed with durable JetStream
consumers and the inbox (a redelivery is a no-op); the reminders' ``source_key`` makes the insert itself
idempotent too. Only the fields used here are read, so the booking contracts may grow."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import nats
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.bus import EventBus
from zhenxi_common.outbox import claim_inbox

from . import repository as repo
from .models import Occurrence

log = logging.getLogger("zhenxi.reminders.bookings")
SUBJECT = "booking.created.v1"
CANCELLED = "booking.cancelled.v1"
VISIT_ZONE = ZoneInfo("Asia/Shanghai")


class BookingCreated(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subject: str = SUBJECT
    event_id: uuid.UUID
    user_id: str
    booking_id: str
    visit_date: date
    window_start: str = "08:00"


class BookingCancelled(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subject: str = CANCELLED
    event_id: uuid.UUID
    user_id: str
    booking_id: str


async def handle_cancel(session: AsyncSession, ev: BookingCancelled) -> int:
    res = await session.execute(delete(Occurrence).where(
        Occurrence.user_id == ev.user_id, Occurrence.kind == "visit", Occurrence.fire_count == 0,
        Occurrence.source_key.startswith(f"visit:{ev.booking_id}:", autoescape=True)).returning(Occurrence.id))
    return len(res.all())


async def handle_booking(session: AsyncSession, ev: BookingCreated, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    h, m = (int(x) for x in ev.window_start.split(":"))
    visit = datetime.combine(ev.visit_date, time(h, m), tzinfo=VISIT_ZONE)
    evening = datetime.combine(ev.visit_date - timedelta(days=1), time(20, 0), tzinfo=VISIT_ZONE)
    added = 0
    for tag, at in (("evening_before", evening), ("two_hours_before", visit - timedelta(hours=2))):
        if at.astimezone(UTC) <= now:
            continue
        added += await repo.insert_reminder(session, user_id=ev.user_id, kind="visit",
                                            source_key=f"visit:{ev.booking_id}:{tag}", due_at=at.astimezone(UTC),
                                            local_date=at.date())
    return added


async def consume_bookings(bus: EventBus, sessionmaker: async_sessionmaker[AsyncSession], inbox: Table,
                           durable: str = "reminders-bookings", subject: str = SUBJECT) -> None:
    model, handler = ((BookingCreated, handle_booking) if subject == SUBJECT else (BookingCancelled, handle_cancel))
    assert bus.js is not None
    sub = await bus.js.pull_subscribe(bus.wire_subject(subject), durable=durable, stream=bus.stream)
    bus._subs.append(sub)
    while True:
        try:
            msgs = await sub.fetch(10, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        for msg in msgs:
            try:
                ev = model.model_validate_json(msg.data)
            except ValueError:
                log.error("dropping malformed booking event")
                await msg.term()
                continue
            try:
                async with sessionmaker() as session, session.begin():
                    if await claim_inbox(session, inbox, ev, durable):  # type: ignore[arg-type]
                        await handler(session, ev)
                await msg.ack()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("booking event failed; will be redelivered")
                await msg.nak(delay=2.0)
