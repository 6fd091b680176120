import contextlib
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from .api import router
from .config import Settings
from .models import outbox


@contextlib.asynccontextmanager
async def ocr_resources(app: FastAPI) -> AsyncIterator[None]:
    """Load the OCR models and the knowledge base once, warm them up, and share the parser."""
    from .knowledge import load_knowledge
    from .service import LabReportParser, ParserOptions

    settings: Settings = app.state.settings

    def build() -> LabReportParser:
        parser = LabReportParser(ParserOptions.from_settings(settings), knowledge=load_knowledge(settings.knowledge_dir))
        parser.warm_up()
        return parser

    app.state.ocr_parser = await anyio.to_thread.run_sync(build)
    app.state.ocr_limiter = anyio.CapacityLimiter(1)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(settings, title="Zhenxi ocr", routers=[router], outbox_table=outbox,
                              resources=ocr_resources)
