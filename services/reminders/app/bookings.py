"""Visit reminders from ``booking.created.v1``: the evening before (20:00) and two hours before the visit window,
in the hospital's zone; ``booking.cancelled.v1`` withdraws those not sent yet. Consumed with the platform's durable
JetStream consumers (``EventBus.consume``) and the inbox (a redelivery is a no-op); the reminders' ``source_key``
makes the insert itself idempotent too."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ConfigDict
from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zhenxi_common.bus import EventBus
from zhenxi_common.events import BookingCancelledV1, BookingCreatedV1, Event

from . import repository as repo
from .models import Occurrence

VISIT_ZONE = ZoneInfo("Asia/Shanghai")


class BookingCancelled(Event):
    """The part of ``BookingCancelledV1`` read here (the ids only), so a cancellation is honoured whatever else
    it carries."""
    model_config = ConfigDict(extra="ignore")
    subject = BookingCancelledV1.subject
    user_id: str
    booking_id: str


async def handle_cancel(session: AsyncSession, ev: BookingCancelled) -> int:
    res = await session.execute(delete(Occurrence).where(
        Occurrence.user_id == ev.user_id, Occurrence.kind == "visit", Occurrence.fire_count == 0,
        Occurrence.source_key.startswith(f"visit:{ev.booking_id}:", autoescape=True)).returning(Occurrence.id))
    return len(res.all())


async def handle_booking(session: AsyncSession, ev: BookingCreatedV1, now: datetime | None = None) -> int:
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


def consume_bookings(bus: EventBus, sessionmaker: async_sessionmaker[AsyncSession], inbox: Table) -> None:
    bus.consume(BookingCreatedV1, "reminders-bookings", handle_booking, sessionmaker, inbox)
    bus.consume(BookingCancelled, "reminders-booking-cancels", handle_cancel, sessionmaker, inbox)
