import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from zhenxi_common.app import create_service_app
from zhenxi_common.http import make_breakers, make_http_client

from .api import router as auth_router
from .config import Settings
from .docs import router as docs_router
from .models import outbox
from .proxy import forward
from .ratelimit import RateLimiter
from .service import AuthService
from .web import SecurityHeaders
from .web import router as web_auth_router

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# Third-party browser modules (installed by npm from gateway/web/package.json, never committed) → URL prefix.
VENDORED = {"uplot": "uplot/dist"}

proxy_router = APIRouter()


@proxy_router.api_route("/api/{service}/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
async def proxy(service: str, path: str, request: Request):
    return await forward(request, service)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        breakers = make_breakers()
        state.upstreams = {name: make_http_client(url, name=name, breakers=breakers,
                                                  timeout_s=settings.upstream_timeout_s)
                           for name, url in settings.service_urls().items()}
        state.wechat = make_http_client(settings.wechat_api_base, name="wechat", breakers=breakers, timeout_s=5.0)
        state.limiter = RateLimiter(state.redis, settings.redis_key_prefix, settings.rate_limit_window_s)
        state.auth = AuthService(settings, state.redis, state.sessionmaker)
        try:
            yield
        finally:
            for client in [*state.upstreams.values(), state.wechat]:
                await client.aclose()

    app = create_service_app(settings, title="Zhenxi gateway", routers=[auth_router, web_auth_router, docs_router, proxy_router],
                             outbox_table=outbox, resources=resources, require_gateway=False,
                             description="The only public entry to Zhenxi.")
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                       allow_methods=PROXY_METHODS, allow_headers=["authorization", "content-type", "x-api-key",
                                                                    "x-request-id", "x-csrf-token"])
    app.add_middleware(SecurityHeaders)
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")
    vendor = settings.web_dir / "node_modules"
    for name, sub in VENDORED.items():
        if (vendor / sub).is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=str(vendor / sub)), name=f"vendor-{name}")
    if settings.web_dir.is_dir():
        app.mount("/", StaticFiles(directory=str(settings.web_dir / "public"), html=True), name="web")
    return app
