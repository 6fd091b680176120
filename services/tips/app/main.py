import contextlib
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from .api import admin_router, router
from .config import Settings
from .content import load_catalogue
from .events import start_consumers
from .knowledge import load_vocabulary
from .models import outbox
from .service import TipsContext, TipsService
from .tagging import Tagger


def build_context(settings: Settings) -> TipsContext:
    """Knowledge vocabulary, seed catalogue and the jieba tagger: loaded once, refused if malformed."""
    vocab = load_vocabulary(settings.knowledge_dir)
    catalogue = load_catalogue(settings.seed_dir) if settings.seed_dir else load_catalogue()
    return TipsContext(settings=settings, vocab=vocab, catalogue=catalogue, tagger=Tagger(vocab))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        ctx = await anyio.to_thread.run_sync(build_context, settings)   # jieba's dictionary takes seconds
        app.state.tips = ctx
        if settings.seed_on_start:
            async with app.state.sessionmaker() as session, session.begin():
                await TipsService(session, ctx).seed()
        start_consumers(app.state.bus, app.state.sessionmaker, ctx)
        yield

    return create_service_app(settings, title="Zhenxi tips", routers=[router, admin_router], outbox_table=outbox,
                              resources=resources,
                              description="Health tips personal to each patient: browse, search, favourites, "
                                          "recommendations from their own results and medicines.")
