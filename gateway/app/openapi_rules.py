"""What the gateway itself adds to every operation it fronts, declared in the aggregated OpenAPI document so the
document tells the truth about the platform's answers (checked by schemathesis in tests/test_api_fuzz.py):

- how to authenticate: ``securitySchemes`` (bearer access token, ``X-API-Key``), required on every proxied route
  and on the account routes that need a caller;
- the answers any proxied route can get from the gateway before or instead of the service: 401 (no or bad
  credentials), 403 (an API key without that service in its scopes), 413 (body too large), 429 (rate limited),
  503 (service unavailable), 504 (service did not answer within its budget);
- on the heavy routes (model inference: OCR, X-ray uploads), a 429 ``too_many_in_flight`` too: the caller already
  has as many of those requests open as it may;
- 400 and 422 wherever a request carries parameters or a body (malformed JSON, values the schema refuses);
- 404 wherever the path carries an id (a missing resource, or another user's).

Service-specific answers (their own 403/404/409...) are declared by each route with ``error_responses``."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zhenxi_common.errors import error_body

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "Access token from POST /api/auth/login, /api/auth/refresh or /api/auth/wechat."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "Integrator key; its scopes must include the service called."},
}
SECURED = [{"bearerAuth": []}, {"apiKey": []}]
# Account routes a caller uses before having (or while giving up) a token.
PUBLIC_AUTH = frozenset({"/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/auth/logout",
                         "/api/auth/wechat"})
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "details"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "details": {"type": "object"}}}},
}

GATEWAY_ANSWERS = {
    "401": ("No valid credentials", "auth_required"),
    "403": ("The API key's scopes do not include this service, or the caller may not do this", "scope_missing"),
    "413": ("The request body is too large", "payload_too_large"),
    "429": ("Rate limited (see Retry-After)", "rate_limited"),
    "503": ("The service is unavailable", "upstream_unavailable"),
    "504": ("The service did not answer within its budget", "upstream_timeout"),
}
IN_FLIGHT_ANSWER = ("Too many of the caller's heavy requests are still open, or rate limited (see Retry-After): "
                    "`too_many_in_flight` `rate_limited`", "too_many_in_flight")
# Another user's resource is "not found" (never "forbidden"): every path with an id can answer 404.
PATH_ID_ANSWERS = {"404": ("No such resource (or not yours)", "not_found")}
INPUT_ANSWERS = {
    "400": ("Malformed request (e.g. a body that is not valid JSON)", "bad_request"),
    "422": ("The request does not match the schema", "validation_error"),
}


def _response(description: str, code: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"},
                                              "example": error_body(code, description)}}}


def _framework_default(response: Any) -> bool:
    """FastAPI's own 422 (``HTTPValidationError``, a ``detail`` list): every service answers a refused request
    with the platform's error body instead, so the document must say that."""
    schema = ((response or {}).get("content") or {}).get("application/json", {}).get("schema") or {}
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def _add(op: dict[str, Any], answers: dict[str, tuple[str, str]]) -> None:
    responses = op.setdefault("responses", {})
    for status, (description, code) in answers.items():
        if _framework_default(responses.get(status)):
            responses[status] = _response(description, code)
        else:
            responses.setdefault(status, _response(description, code))


def apply_platform_rules(spec: dict[str, Any], services: Iterable[str],
                         in_flight: tuple[Iterable[str], Iterable[str]] = ((), ())) -> dict[str, Any]:
    """``services``: the names whose paths were merged in under ``/api/<service>/``; ``in_flight``: the services
    and methods whose requests count against the per-caller cap on heavy requests in flight."""
    prefixes = tuple(f"/api/{name}/" for name in services)
    heavy_prefixes = tuple(f"/api/{name}/" for name in in_flight[0])
    heavy_methods = {m.lower() for m in in_flight[1]}
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("schemas", {}).setdefault("ErrorResponse", ERROR_SCHEMA)
    for path, item in spec.get("paths", {}).items():
        proxied = path.startswith(prefixes)
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            has_input = bool(op.get("requestBody") or op.get("parameters") or item.get("parameters"))
            if has_input:
                _add(op, INPUT_ANSWERS)
            if "{" in path:
                _add(op, PATH_ID_ANSWERS)
            if proxied:
                op["security"] = SECURED
                if path.startswith(heavy_prefixes) and method in heavy_methods:
                    _add(op, {"429": IN_FLIGHT_ANSWER})
                _add(op, GATEWAY_ANSWERS)
            elif path in PUBLIC_AUTH:
                op["security"] = []
                _add(op, {"429": GATEWAY_ANSWERS["429"]})
            elif path.startswith("/api/auth/"):
                op["security"] = SECURED
                _add(op, {k: GATEWAY_ANSWERS[k] for k in ("401", "403", "429")})
    return spec
