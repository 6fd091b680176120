"""One OpenAPI document and one health view for the whole platform, assembled from the services.

Both ask every service at once, directly (no retries, no circuit breaker: they report the state, they must not
be stopped by it) and with short timeouts of their own, so one frozen or dead service costs one timeout, not the
whole view. Health names each service ``ok``, ``degraded`` or ``down`` with the reason; the OpenAPI document
serves every spec it has (the last good copy of a service that does not answer now) and marks what is missing."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from .openapi_rules import apply_platform_rules

router = APIRouter(tags=["platform"])


def merge_openapi(own: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mount each service's paths under ``/api/<service>`` and namespace its schemas as ``<service>__Name``."""
    merged = json.loads(json.dumps(own))
    merged.setdefault("components", {}).setdefault("schemas", {})
    merged["tags"] = merged.get("tags", [])
    for name, spec in sorted(services.items()):
        text = json.dumps(spec).replace('"#/components/schemas/', f'"#/components/schemas/{name}__')
        spec = json.loads(text)
        for path, item in spec.get("paths", {}).items():
            for op in item.values():
                if isinstance(op, dict):
                    op["tags"] = [name]
                    op["operationId"] = f"{name}__{op.get('operationId', path)}"
            merged["paths"][f"/api/{name}{path}"] = item
        for schema_name, schema in spec.get("components", {}).get("schemas", {}).items():
            merged["components"]["schemas"][f"{name}__{schema_name}"] = schema
        merged["tags"].append({"name": name, "description": spec.get("info", {}).get("description", "")})
    return merged


async def _probe(client: httpx.AsyncClient, url: str, timeout_s: float) -> tuple[int, Any, str]:
    """(status, json body or None, reason when there is no usable answer)."""
    try:
        r = await client.get(url, timeout=timeout_s)
    except httpx.TimeoutException:
        return 0, None, f"no answer within {timeout_s:g} s"
    except httpx.HTTPError as exc:
        return 0, None, f"unreachable ({type(exc).__name__})"
    try:
        return r.status_code, r.json(), ""
    except ValueError:
        return r.status_code, None, f"HTTP {r.status_code}, not JSON"


async def _probe_all(request: Request, path: str, timeout_s: float) -> dict[str, tuple[int, Any, str]]:
    state = request.app.state
    urls = state.settings.service_urls()
    names = list(urls)
    results = await asyncio.gather(*(_probe(state.probe, urls[n].rstrip("/") + path, timeout_s) for n in names))
    return dict(zip(names, results, strict=True))


async def _circuit(request: Request, name: str) -> str:
    breakers = getattr(request.app.state, "breakers", None)
    if breakers is None:
        return "closed"
    return (await breakers.get_breaker(name)).context.state


@router.get("/api/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    state = request.app.state
    fetched = await _probe_all(request, "/openapi.json", state.settings.docs_fetch_timeout_s)
    specs: dict[str, dict[str, Any]] = {}
    marks: dict[str, dict[str, str]] = {}
    for name, (status, spec, reason) in fetched.items():
        if status == 200 and isinstance(spec, dict) and "paths" in spec:
            state.spec_cache[name] = spec
            specs[name] = spec
            continue
        reason = reason or f"HTTP {status}"
        if name in state.spec_cache:
            specs[name] = state.spec_cache[name]
            marks[name] = {"status": "stale", "reason": f"{reason}; serving the last copy fetched"}
        else:
            marks[name] = {"status": "missing", "reason": reason}
    merged = apply_platform_rules(merge_openapi(request.app.openapi(), specs), specs,
                                  in_flight=(state.settings.in_flight_services, state.settings.in_flight_methods))
    merged["x-zhenxi-services"] = {n: marks.get(n, {"status": "ok"}) for n in fetched}
    for name, mark in sorted(marks.items()):
        if mark["status"] == "missing":
            merged["tags"].append({"name": name, "description": f"Unavailable now: {mark['reason']}."})
    if marks:
        note = ", ".join(f"{n} ({m['status']}: {m['reason']})" for n, m in sorted(marks.items()))
        merged["info"]["description"] = (merged["info"].get("description", "") +
                                         f"\n\nNot current in this document: {note}.").strip()
    return JSONResponse(merged)


@router.get("/api/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/api/openapi.json", title="Zhenxi API",
                               swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                               swagger_css_url="/static/swagger/swagger-ui.css",
                               swagger_favicon_url="/static/swagger/favicon-32x32.png")


@router.get("/api/health")
async def health(request: Request) -> JSONResponse:
    """Each service behind the gateway (ok, degraded or down, with the reason) and the platform overall."""
    probes = await _probe_all(request, "/readyz", request.app.state.settings.health_probe_timeout_s)
    services: dict[str, dict[str, Any]] = {}
    for name, (status, body, reason) in probes.items():
        circuit = await _circuit(request, name)
        if status == 200:
            entry = {"status": "ok"}
            if circuit != "closed":
                entry = {"status": "degraded", "reason": f"ready, but the gateway's circuit is {circuit}"}
        elif status:
            failing = {k: v for k, v in ((body or {}).get("checks") or {}).items() if v != "ok"}
            entry = {"status": "degraded",
                     "reason": f"not ready: {', '.join(f'{k} {v}' for k, v in failing.items()) or f'HTTP {status}'}"}
        else:
            entry = {"status": "down", "reason": reason}
        entry["circuit"] = circuit
        services[name] = entry
    states = {e["status"] for e in services.values()}
    overall = "ok" if states == {"ok"} else ("down" if states == {"down"} else "degraded")
    return JSONResponse({"status": overall, "services": services}, status_code=200 if overall == "ok" else 503)
