from fastapi import FastAPI

from zhenxi_common.app import create_service_app

from .api import router
from .config import Settings
from .models import outbox


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(settings, title="Zhenxi xray", routers=[router], outbox_table=outbox)
