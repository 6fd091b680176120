"""One error base and one handler: every failure leaves a service as
``{"error": {"code", "message", "details"}}`` with a meaningful status."""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logs import REQUEST_ID_HEADER, request_id_var

log = logging.getLogger("zhenxi.errors")


class ServiceError(Exception):
    code: ClassVar[str] = "service_error"
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "请求无法完成。 The request could not be completed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class FieldError(ServiceError):
    """A 422 about one field that a schema alone cannot judge (it needs the clock, the settings or stored data);
    the field is named in ``details.field``."""
    status = 422
    code = "invalid_field"
    default_message = "字段无效。 A field is not valid."

    def __init__(self, field: str, message: str | None = None, **details: Any) -> None:
        super().__init__(message, details={"field": field, **details})


class InvalidDateRangeError(FieldError):
    code = "invalid_date_range"
    default_message = "日期范围无效。 The date range is not valid."

    @classmethod
    def days(cls, date_from: date, date_to: date, *, max_days: int, field: str = "date_to") -> list[date]:
        """Every day of [date_from, date_to], oldest first; raises for an inverted range or one over max_days."""
        if date_to < date_from or (date_to - date_from).days >= max_days:
            raise cls(field, max_days=max_days)
        return [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]


class NotFoundError(ServiceError):
    code = "not_found"
    status = 404
    default_message = "没有找到。 Not found."


class UnauthorizedError(ServiceError):
    code = "unauthorized"
    status = 401
    default_message = "需要登录认证。 Authentication is required."


class ForbiddenError(ServiceError):
    code = "forbidden"
    status = 403
    default_message = "您无权执行此操作。 You are not allowed to do this."


class ConflictError(ServiceError):
    code = "conflict"
    status = 409
    default_message = "请求与当前状态冲突。 The request conflicts with the current state."


class PayloadTooLargeError(ServiceError):
    code = "payload_too_large"
    status = 413
    default_message = "请求体过大。 The request body is too large."


class RateLimitedError(ServiceError):
    code = "rate_limited"
    status = 429
    default_message = "请求过于频繁，请稍后再试。 Too many requests; slow down."


class UpstreamUnavailableError(ServiceError):
    code = "upstream_unavailable"
    status = 503
    default_message = "依赖的服务暂时不可用，请稍后再试。 A dependency is unavailable; try again shortly."


class UpstreamTimeoutError(ServiceError):
    code = "upstream_timeout"
    status = 504
    default_message = "依赖的服务未及时应答，请稍后再试。 A dependency did not answer in time; try again shortly."


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_responses(*errors: type[ServiceError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route, built from the errors it can raise."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status, {"description": ""})
        entry["description"] = (entry["description"] + f" `{err.code}`").strip()
        entry.setdefault("content", {"application/json": {"example": error_body(err.code, err.default_message)}})
    return out


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
               413: "payload_too_large", 429: "rate_limited"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo locations and messages only: input values may carry personal data.
        problems = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                    for e in exc.errors()]
        return JSONResponse(error_body("validation_error", "请求格式不正确。 The request is not valid.", {"errors": problems}),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else "请求失败。 Request failed."
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the request's id (the request-context middleware has already let go of it here) on the log line and
        # the answer, so that a 500 can be traced; the route template, never the raw path (it may hold ids)
        rid = getattr(request.state, "request_id", None)
        token = request_id_var.set(rid) if rid else None
        try:
            route = getattr(request.scope.get("route"), "path", None) or "<other>"
            log.exception("unhandled error", extra={"route": route})
        finally:
            if token is not None:
                request_id_var.reset(token)
        return JSONResponse(error_body("internal_error", "服务器内部出错。 Something went wrong on our side."), status_code=500,
                            headers={REQUEST_ID_HEADER: rid} if rid else None)
