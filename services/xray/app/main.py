import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from .api import router
from .config import Settings
from .events import ModelWatcher, setup_work_queue, start_training_dispatch
from .models import outbox
from .registry import ModelStore, seed_bundled
from .runtime import ModelRuntime
from .service import AnalysisService


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.store = ModelStore(settings.model_store)
        state.store.sweep_temp()
        if settings.seed_bundled_models:
            await seed_bundled(state.sessionmaker, state.store, settings)
        state.runtime = ModelRuntime(settings, state.store, state.sessionmaker)
        state.analyses = AnalysisService(state.runtime, settings.chest_model_name)
        await setup_work_queue(state.bus, settings)
        start_training_dispatch(state.bus, state.sessionmaker, settings)
        state.watcher = ModelWatcher(state.bus, state.runtime, settings)
        await state.watcher.start()
        try:
            yield
        finally:
            await state.watcher.stop()
            await state.runtime.aclose()

    return create_service_app(settings, title="Zhenxi xray", routers=[router], outbox_table=outbox,
                              resources=resources,
                              description="胸片分析、模型仓库与微调 Chest X-ray analysis, model registry, fine-tuning.")
