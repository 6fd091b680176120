import contextlib
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from .api import router
from .config import Settings
from .models import outbox
from .service import NlpService


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        # Knowledge, jieba dictionary and the embedding index are built once per process, off the event loop.
        app.state.nlp = await anyio.to_thread.run_sync(NlpService.create, settings)
        yield

    return create_service_app(settings, title="Zhenxi nlp", routers=[router], outbox_table=outbox,
                              resources=resources)
