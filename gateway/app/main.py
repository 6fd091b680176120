import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.routing import compile_path
from swagger_ui_bundle import swagger_ui_path

from zhenxi_common.app import create_service_app
from zhenxi_common.http import make_breakers, make_http_client

from .api import router as auth_router
from .config import Settings
from .docs import router as docs_router
from .errors import MethodNotAllowedError
from .models import outbox
from .proxy import forward
from .ratelimit import InFlightLimiter, RateLimiter
from .service import AuthService
from .web import SecurityHeaders
from .web import router as web_auth_router

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# Third-party browser modules (installed by npm from gateway/web/package.json, never committed) → URL prefix.
VENDORED = {"uplot": "uplot/dist"}

proxy_router = APIRouter()


@proxy_router.api_route("/api/{service}/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
async def proxy(service: str, path: str, request: Request):
    allowed = _gateway_methods_for(request)
    if allowed:  # one of the gateway's own paths (/api/auth/login...) with a method it does not take
        raise MethodNotAllowedError(details={"allowed": sorted(allowed)}, headers={"Allow": ", ".join(sorted(allowed))})
    return await forward(request, service)


def _gateway_methods_for(request: Request) -> set[str]:
    """Methods the gateway's own documented routes take on this path (empty: not a gateway path)."""
    allowed: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            allowed |= {m.upper() for m in item if m in ("get", "put", "post", "delete", "patch")}
    return allowed


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        breakers = state.breakers = make_breakers()
        state.upstreams = {name: make_http_client(url, name=name, breakers=breakers,
                                                  timeout_s=settings.stream_idle_timeout_s)
                           for name, url in settings.service_urls().items()}
        # Health and docs ask the services directly: no retries, no breaker, their own short timeouts.
        state.probe = httpx.AsyncClient(timeout=httpx.Timeout(settings.docs_fetch_timeout_s, connect=1.0))
        state.spec_cache = {}
        state.wechat = make_http_client(settings.wechat_api_base, name="wechat", breakers=breakers, timeout_s=5.0)
        state.limiter = RateLimiter(state.redis, settings.redis_key_prefix, settings.rate_limit_window_s)
        state.in_flight = InFlightLimiter(state.redis, settings.redis_key_prefix, settings.in_flight_retry_after_s)
        state.auth = AuthService(settings, state.redis, state.sessionmaker)
        try:
            yield
        finally:
            for client in [*state.upstreams.values(), state.wechat, state.probe]:
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
