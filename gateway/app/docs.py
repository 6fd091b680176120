"""One OpenAPI document and one health view for the whole platform, assembled from the services."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

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


async def _fetch_json(client: httpx.AsyncClient, url: str) -> tuple[int, dict[str, Any] | None]:
    try:
        r = await client.get(url, timeout=3.0)
        return r.status_code, r.json()
    except (httpx.HTTPError, ValueError):
        return 0, None


@router.get("/api/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    state = request.app.state
    names = list(state.upstreams)
    results = await asyncio.gather(*(_fetch_json(state.upstreams[n], "/openapi.json") for n in names))
    specs = {n: spec for n, (status, spec) in zip(names, results, strict=True) if status == 200 and spec}
    return JSONResponse(merge_openapi(request.app.openapi(), specs))


@router.get("/api/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/api/openapi.json", title="Zhenxi API",
                               swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                               swagger_css_url="/static/swagger/swagger-ui.css",
                               swagger_favicon_url="/static/swagger/favicon-32x32.png")


@router.get("/api/health")
async def health(request: Request) -> JSONResponse:
    """Readiness of every service behind the gateway."""
    state = request.app.state
    names = list(state.upstreams)
    results = await asyncio.gather(*(_fetch_json(state.upstreams[n], "/readyz") for n in names))
    services = {n: ("ready" if status == 200 else (body or {}).get("status", "unreachable"))
                for n, (status, body) in zip(names, results, strict=True)}
    ok = all(v == "ready" for v in services.values())
    return JSONResponse({"status": "ready" if ok else "degraded", "services": services},
                        status_code=200 if ok else 503)
