"""``create_service_app``: the one place that assembles a Zhenxi service, so every service has the same probes,
metrics, errors, request ids, gateway-identity check and connection lifecycle."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import Table

from .bus import EventBus
from .cache import make_redis
from .db import make_engine, make_sessionmaker
from .errors import install_error_handlers
from .identity import GatewayIdentityMiddleware
from .limits import BodySizeLimitMiddleware
from .logs import configure_logging
from .observability import RequestContextMiddleware, install_observability
from .outbox import OutboxRelay
from .settings import BaseServiceSettings

Resources = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Any]]


def create_service_app(
    settings: BaseServiceSettings,
    *,
    title: str,
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    outbox_table: Table | None = None,
    resources: Resources | None = None,
    require_gateway: bool = True,
    description: str = "",
) -> FastAPI:
    """``resources`` is an async context manager factory for the service's own long-lived things (ONNX
    sessions, consumers, HTTP clients); it runs after DB, Redis and NATS are connected."""
    configure_logging(settings.service_name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.settings = settings
        state.engine = make_engine(settings.database_url, settings.db_pool_size)

        def wake_relay() -> None:
            relay = getattr(state, "outbox_relay", None)
            if relay is not None:
                relay.wake()

        state.sessionmaker = make_sessionmaker(state.engine, outbox_table, wake_relay)
        state.redis = make_redis(settings.redis_url)
        state.bus = EventBus(settings.nats_url, settings.nats_subject_prefix)
        await state.bus.connect()
        state.outbox_relay = None
        if outbox_table is not None:
            state.outbox_relay = OutboxRelay(state.sessionmaker, outbox_table, state.bus)
            state.outbox_relay.start()
        try:
            if resources is not None:
                async with resources(app):
                    yield
            else:
                yield
        finally:
            if state.outbox_relay is not None:
                await state.outbox_relay.stop()
            await state.bus.close()
            await state.redis.aclose()
            await state.engine.dispose()

    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    install_error_handlers(app)
    metrics = install_observability(app, settings.service_name)
    for router in routers:
        app.include_router(router)
    if require_gateway:
        app.add_middleware(GatewayIdentityMiddleware, key=settings.internal_signing_key,
                           max_age_s=settings.identity_max_age_s)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
