"""Liveness, readiness, Prometheus metrics and the per-request context (request id, access log)."""
from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import REQUEST_ID_HEADER, accept_request_id, request_id_var

access_log = logging.getLogger("zhenxi.access")


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency",
                                 ["service", "method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.service = service


class RequestContextMiddleware:
    """Assigns or propagates X-Request-ID, records metrics and writes one access-log line per request.
    It logs the route template (``/v1/plans/{plan_id}``), never the raw path or query, which may hold personal data."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = accept_request_id(headers.get(REQUEST_ID_HEADER.lower()))
        token = request_id_var.set(rid)
        # an unhandled error is answered outside this middleware (Starlette's outermost error layer), after the
        # context variable is reset: the id also travels on the request's state for that answer and its log line
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or ("<unmatched>" if status == 404 else "<other>")
            self.metrics.requests.labels(self.metrics.service, scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(self.metrics.service, scope["method"], template).observe(elapsed)
            if template not in ("/healthz", "/readyz", "/metrics"):
                access_log.info("request", extra={"method": scope["method"], "route": template, "status": status,
                                                  "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)


async def _check(name: str, coro) -> tuple[str, str]:
    try:
        await asyncio.wait_for(coro, timeout=2.0)
        return name, "ok"
    except Exception as exc:  # a probe reports every failure as data
        return name, f"error: {type(exc).__name__}"


def probes_router() -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Liveness: the process is up and serving."""
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: this process can reach its database, Redis and NATS."""
        state = request.app.state

        async def db() -> None:
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def redis() -> None:
            await state.redis.ping()

        async def nats() -> None:
            if not await state.bus.ping():
                raise ConnectionError("nats disconnected")

        checks = dict(await asyncio.gather(_check("database", db()), _check("redis", redis()),
                                           _check("nats", nats())))
        extra = getattr(state, "extra_readiness", None)
        if extra is not None:
            checks.update(await extra())
        ready = all(v == "ok" for v in checks.values())
        settings = getattr(state, "settings", None)
        body = {"status": "ready" if ready else "not_ready", "checks": checks,
                "service": getattr(settings, "service_name", None)}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def install_observability(app: FastAPI, service: str) -> Metrics:
    metrics = Metrics(service)
    app.state.metrics = metrics
    app.include_router(probes_router())
    return metrics
