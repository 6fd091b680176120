import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from . import knowledge
from .api import admin_router, router
from .config import Settings
from .downstream import HttpDownstream
from .llm import make_rewriter
from .models import outbox
from .service import ReportService
from .store import Sealer, UploadStore, parse_keys
from .worker import ReportEngine


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    kb = knowledge.load(settings.knowledge_dir)   # refuse to start on broken knowledge
    keys = parse_keys(settings.upload_keys, settings.upload_key_id)

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        store = UploadStore(settings.upload_dir, keys, settings.upload_key_id)
        sealer = Sealer(keys, settings.upload_key_id)
        downstream = HttpDownstream(ocr_url=settings.ocr_url, xray_url=settings.xray_url, nlp_url=settings.nlp_url,
                                    signing_key=settings.internal_signing_key,
                                    timeouts={"ocr": settings.ocr_timeout_s, "xray": settings.xray_timeout_s,
                                              "nlp": settings.nlp_timeout_s,
                                              "reminders": settings.reminders_timeout_s},
                                    reminders_url=settings.reminders_url or None,
                                    breaker_threshold=settings.breaker_threshold,
                                    breaker_ttl_s=settings.breaker_ttl_s)
        engine = ReportEngine(state.sessionmaker, store, sealer, downstream, kb,
                              concurrency=settings.worker_concurrency, poll_s=settings.worker_poll_s,
                              booking_search_url=settings.booking_search_url, rewriter=make_rewriter(settings))
        state.reports = ReportService(state.sessionmaker, store, sealer, engine, max_files=settings.max_files,
                                      max_file_bytes=settings.max_file_bytes,
                                      max_symptom_chars=settings.max_symptom_chars)
        state.engine_worker = engine
        engine.start()   # picks up pending reports left by a crash at once
        try:
            yield
        finally:
            await engine.stop()
            await downstream.aclose()

    return create_service_app(settings, title="Zhenxi report", routers=[router, admin_router], outbox_table=outbox,
                              resources=resources)
