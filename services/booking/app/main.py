import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import jieba
from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from .api import admin_router, router
from .config import Settings
from .knowledge import load_departments
from .models import outbox
from .personal_data import PersonalDataVault
from .service import BookingService
from .slots import SlotCounts

log = logging.getLogger("booking")


async def _sweep_forever(svc: BookingService, interval_s: float) -> None:
    while True:
        try:
            await svc.sweep_expired_holds()
        except asyncio.CancelledError:
            raise
        except Exception:  # a DB blip must not kill the sweeper; the next pass retries
            log.exception("hold sweep failed")
        await asyncio.sleep(interval_s)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        jieba.setLogLevel(logging.WARNING)
        await anyio.to_thread.run_sync(jieba.initialize)
        departments = load_departments(settings.knowledge_dir)
        vault = PersonalDataVault(settings.data_keys, settings.active_key_id, settings.blind_index_key)
        slots = SlotCounts(app.state.redis, settings.redis_key_prefix, settings.slot_cache_ttl_s)
        svc = BookingService(settings, app.state.sessionmaker, slots, departments, vault)
        app.state.booking = svc
        if settings.env == "dev" and settings.seed_dev:
            from .seed import seed_catalogue

            await seed_catalogue(svc)
        sweeper = asyncio.create_task(_sweep_forever(svc, settings.hold_sweep_interval_s), name="hold-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    return create_service_app(settings, title="Zhenxi booking", routers=[router, admin_router], outbox_table=outbox,
                              resources=resources)
