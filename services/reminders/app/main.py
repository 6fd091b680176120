import logging
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from zhenxi_common.app import create_service_app
from zhenxi_common.events import ReminderDueV1
from zhenxi_common.http import make_http_client

from .api import admin_router, router
from .bookings import consume_bookings
from .channels import Dispatcher
from .config import Settings
from .crypto import FieldCipher
from .knowledge import get_drug_book
from .models import inbox, outbox
from .relay import RELAY_SESSION_SETTINGS, DrainingRelay, RelayStats
from .scheduler import Scheduler
from .service import Reminders


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # httpx logs every URL at INFO: webhook addresses and the WeChat access token must not reach the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        # Bursty outbox: swap the platform relay for one that drains full batches concurrently.
        if state.outbox_relay is not None:
            await state.outbox_relay.stop()
        if getattr(state, "relay_stats", None) is None:
            state.relay_stats = RelayStats(state.metrics.registry)
        # The relay's own pool: one connection per lane, commits without waiting for the WAL flush (relay.py says
        # why that is safe for "sent" marks only), and planner settings that keep its claim on the release index, in
        # release order (relay.py: RELAY_SESSION_SETTINGS).
        relay_engine = create_async_engine(settings.database_url, pool_size=settings.relay_depth, max_overflow=0,
                                           pool_pre_ping=True,
                                           connect_args={"server_settings": RELAY_SESSION_SETTINGS})
        relay_sessions = async_sessionmaker(relay_engine, expire_on_commit=False)
        state.outbox_relay = DrainingRelay(relay_sessions, outbox, state.bus, poll_interval_s=settings.relay_poll_s,
                                           batch_size=settings.relay_batch, stats=state.relay_stats,
                                           depth=settings.relay_depth, prefetch_s=settings.relay_prefetch_s,
                                           prefetch_batch=settings.relay_prefetch_batch)
        state.outbox_relay.start()
        state.reminders = Reminders(settings, FieldCipher(settings.data_key),
                                    get_drug_book(str(settings.knowledge_dir) if settings.knowledge_dir else None))
        state.http = make_http_client("", name="reminders-out", attempts=1, timeout_s=settings.webhook_timeout_s)
        state.dispatcher = Dispatcher(state.reminders, state.http, state.redis, settings.redis_key_prefix)
        state.scheduler = Scheduler(state.sessionmaker, state.reminders, on_staged=state.outbox_relay.wake_at)
        if settings.scheduler_enabled:
            state.scheduler.start()
        if settings.deliveries_enabled:
            state.bus.consume(ReminderDueV1, "reminders-delivery", state.dispatcher.handle, state.sessionmaker, inbox)
            consume_bookings(state.bus, state.sessionmaker, inbox)
        try:
            yield
        finally:
            await state.scheduler.stop()
            await state.outbox_relay.stop()
            await relay_engine.dispose()
            await state.http.aclose()

    return create_service_app(settings, title="Zhenxi reminders", routers=[router, admin_router],
                              outbox_table=outbox, resources=resources)
