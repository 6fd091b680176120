"""What the browser client needs from the gateway: cookie sessions with CSRF protection, and security headers.

The web client keeps its access token in memory only. Its refresh token lives in an httpOnly cookie that page
scripts cannot read, scoped to ``/api/auth/web`` so no other route ever receives it. Because a cookie is sent by
the browser on its own, the two routes it authenticates (refresh, logout) need a CSRF defence: the double-submit
pattern (a random ``zx_csrf`` cookie, readable by the page, echoed in the ``X-CSRF-Token`` header; a cross-site
page can neither read the cookie nor set the header) plus SameSite=Strict and an Origin check. Every other API
route is authenticated by the ``Authorization`` header, which a browser never adds by itself, so it needs none.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhenxi_common.db import DbSession
from zhenxi_common.errors import ForbiddenError, error_responses
from zhenxi_common.tokens import TokenExpiredError, TokenInvalidError

from .errors import (AuthRequiredError, InvalidCredentialsError, LoginBackoffError, RefreshTokenReusedError,
                     TokenRevokedError)
from .proxy import client_ip
from .schemas import LoginRequest

REFRESH_COOKIE = "zx_refresh"
CSRF_COOKIE = "zx_csrf"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/api/auth/web"

# The web client is plain ES modules from this origin: no inline script or style, no eval, no framing.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class CsrfFailedError(ForbiddenError):
    code = "csrf_failed"
    default_message = ("请求未携带本站的 CSRF 令牌，请刷新页面后重试。 "
                       "The request did not carry this site's CSRF token; reload the page and try again.")


class WebSession(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


router = APIRouter(prefix=COOKIE_PATH, tags=["auth"])


def _secure(request: Request) -> bool:
    forced = request.app.state.settings.cookie_secure
    if forced is not None:
        return forced
    return request.headers.get("x-forwarded-proto", request.url.scheme) == "https"


def _check_origin(request: Request) -> None:
    """A browser sends Origin on POST; it must be this host or a configured client origin."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or a same-origin GET; the CSRF token still has to match
        return
    allowed = set(request.app.state.settings.cors_origins)
    host = request.headers.get("host", "")
    parts = urlsplit(origin)
    if origin in allowed or (parts.netloc and parts.netloc == host):
        return
    raise CsrfFailedError("不接受来自其他网站的请求。 Requests from another site are not accepted.", details={"origin": origin})


def _check_csrf(request: Request) -> None:
    _check_origin(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise CsrfFailedError()


def _set_session_cookies(request: Request, response: Response, refresh_token: str) -> None:
    s = request.app.state.settings
    secure = _secure(request)
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=s.refresh_ttl_s, path=COOKIE_PATH, httponly=True,
                        secure=secure, samesite="strict")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=s.refresh_ttl_s, path="/", httponly=False,
                        secure=secure, samesite="strict")


def _clear_session_cookies(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH)
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.post("/login", response_model=WebSession,
             responses=error_responses(InvalidCredentialsError, LoginBackoffError, CsrfFailedError))
async def web_login(body: LoginRequest, request: Request, response: Response, session: DbSession) -> WebSession:
    """Browser login: the access token in the body (kept in memory), the refresh token in an httpOnly cookie and a
    fresh CSRF token in a readable cookie."""
    from .api import auth_attempt_limit

    _check_origin(request)
    await auth_attempt_limit(request)
    pair = await request.app.state.auth.login(session, body.username, body.password, client_ip(request))
    _set_session_cookies(request, response, pair.refresh_token)
    return WebSession(access_token=pair.access_token, expires_in=pair.expires_in)


@router.post("/refresh", response_model=WebSession,
             responses=error_responses(AuthRequiredError, CsrfFailedError, TokenRevokedError,
                                       RefreshTokenReusedError))
async def web_refresh(request: Request, response: Response, session: DbSession) -> WebSession:
    """Rotate the cookie session (on page load and before the access token expires). Needs ``X-CSRF-Token``."""
    from .api import auth_attempt_limit

    _check_csrf(request)
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise AuthRequiredError("没有登录会话，请登录。 No session: log in.")
    await auth_attempt_limit(request)
    pair = await request.app.state.auth.refresh(session, token)
    _set_session_cookies(request, response, pair.refresh_token)
    return WebSession(access_token=pair.access_token, expires_in=pair.expires_in)


@router.post("/logout", status_code=204, responses=error_responses(CsrfFailedError))
async def web_logout(request: Request, session: DbSession) -> Response:
    """End the cookie session (and the access token, if sent) and clear the cookies. Needs ``X-CSRF-Token``."""
    _check_csrf(request)
    token = request.cookies.get(REFRESH_COOKIE)
    auth = request.headers.get("authorization", "")
    access = None
    if auth.lower().startswith("bearer "):
        try:
            access = request.app.state.auth.access_claims(auth[7:].strip())
        except (TokenInvalidError, TokenExpiredError):  # a bad access token does not stop a logout
            access = None
    if token:
        try:
            await request.app.state.auth.logout(session, token, access)
        except (TokenInvalidError, TokenExpiredError):  # a stale cookie still gets cleared
            pass
    response = Response(status_code=204)
    _clear_session_cookies(response)
    return response


class SecurityHeaders:
    """CSP and friends on the web client's pages (Swagger UI at /api/docs keeps its own needs). Plain ASGI so
    streamed answers (SSE through the proxy) pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not path.startswith(("/api/docs", "/static/swagger")):
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                    headers.setdefault("X-Frame-Options", "DENY")
                if not path.startswith("/api/"):
                    headers.setdefault("Cache-Control", "no-cache")  # a new deploy is picked up at once
            await send(message)

        await self.app(scope, receive, send_with_headers)
