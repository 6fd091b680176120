"""What the tips service consumes: ``report.completed.v1`` and ``plan.changed.v1``, each through a durable
JetStream consumer and the inbox (``zhenxi_common.bus``), so a redelivered or replayed event changes nothing."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhenxi_common.bus import EventBus
from zhenxi_common.events import Event, PlanChangedV1, ReportCompletedV1

from .models import inbox
from .service import TipsContext, TipsService

REPORT_CONSUMER = "tips-report-completed"
PLAN_CONSUMER = "tips-plan-changed"


def handler_for(ctx: TipsContext):
    async def handle(session: AsyncSession, event: Event) -> None:
        service = TipsService(session, ctx)
        if isinstance(event, ReportCompletedV1):
            await service.on_report_completed(event)
        elif isinstance(event, PlanChangedV1):
            await service.on_plan_changed(event)

    return handle


def start_consumers(bus: EventBus, sessionmaker, ctx: TipsContext) -> None:
    handle = handler_for(ctx)
    bus.consume(ReportCompletedV1, REPORT_CONSUMER, handle, sessionmaker, inbox)
    bus.consume(PlanChangedV1, PLAN_CONSUMER, handle, sessionmaker, inbox)
