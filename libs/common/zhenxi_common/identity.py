"""Who is calling. The gateway authenticates the user and forwards the identity in HMAC-signed headers bound to
the method, path and time; every service verifies them, so a request that did not come through the gateway (or
a forged or replayed-late header) is refused before any route runs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ForbiddenError, UnauthorizedError, error_body

HEADER_IDENTITY = "x-zhenxi-identity"
HEADER_TIMESTAMP = "x-zhenxi-timestamp"
HEADER_SIGNATURE = "x-zhenxi-signature"
IDENTITY_HEADERS = (HEADER_IDENTITY, HEADER_TIMESTAMP, HEADER_SIGNATURE)
# Probes, metrics and the OpenAPI document are not user data and are read by orchestrators directly.
UNSIGNED_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


@dataclass(frozen=True)
class Identity:
    user_id: str
    role: str
    scopes: tuple[str, ...] = field(default_factory=tuple)
    via: str = "user"  # user | api_key | service

    def to_header(self) -> str:
        raw = json.dumps({"sub": self.user_id, "role": self.role, "scopes": list(self.scopes), "via": self.via},
                         separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_header(cls, value: str) -> "Identity":
        padded = value + "=" * (-len(value) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        return cls(user_id=str(data["sub"]), role=str(data["role"]), scopes=tuple(data.get("scopes", ())),
                   via=str(data.get("via", "user")))


def _mac(key: str, ts: str, method: str, target: str, identity_b64: str) -> str:
    msg = "\n".join((ts, method.upper(), target, identity_b64)).encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


def sign_headers(key: str, identity: Identity, method: str, target: str, now: float | None = None) -> dict[str, str]:
    """Headers for a request to ``target`` (path plus ``?query`` as the service will see it)."""
    ts = str(int(now if now is not None else time.time()))
    ident = identity.to_header()
    return {HEADER_IDENTITY: ident, HEADER_TIMESTAMP: ts, HEADER_SIGNATURE: _mac(key, ts, method, target, ident)}


def verify_headers(key: str, headers: dict[str, str], method: str, target: str, max_age_s: int,
                   now: float | None = None) -> Identity:
    ident, ts, sig = (headers.get(h) for h in IDENTITY_HEADERS)
    if not (ident and ts and sig):
        raise GatewayRequiredError()
    try:
        age = abs((now if now is not None else time.time()) - int(ts))
    except ValueError as exc:
        raise GatewaySignatureError() from exc
    if age > max_age_s:
        raise GatewaySignatureError("网关签名已过期。 The gateway signature has expired.")
    if not hmac.compare_digest(_mac(key, ts, method, target, ident), sig):
        raise GatewaySignatureError()
    try:
        return Identity.from_header(ident)
    except (ValueError, KeyError, TypeError) as exc:
        raise GatewaySignatureError() from exc


class GatewayRequiredError(UnauthorizedError):
    code = "gateway_required"
    default_message = "请求必须经由诊析网关。 Requests must come through the Zhenxi gateway."


class GatewaySignatureError(UnauthorizedError):
    code = "gateway_signature_invalid"
    default_message = "网关身份签名无效。 The gateway identity signature is not valid."


def request_target(scope: Scope) -> str:
    """The path as sent on the wire (still percent-encoded) plus the raw query: what the signer saw."""
    raw = scope.get("raw_path") or scope.get("path", "").encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    qs = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{qs}" if qs else path


class GatewayIdentityMiddleware:
    """Pure ASGI middleware (no body buffering): verifies the identity headers on every non-probe request."""

    def __init__(self, app: ASGIApp, key: str, max_age_s: int = 120) -> None:
        self.app = app
        self.key = key
        self.max_age_s = max_age_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNSIGNED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            identity = verify_headers(self.key, headers, scope["method"], request_target(scope), self.max_age_s)
        except UnauthorizedError as exc:
            body = json.dumps(error_body(exc.code, exc.message)).encode()
            await send({"type": "http.response.start", "status": exc.status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


def current_identity(request: Request) -> Identity:
    identity = getattr(request.state, "identity", None)
    if identity is None:
        raise GatewayRequiredError()
    return identity


CurrentUser = Annotated[Identity, Depends(current_identity)]


def require_role(*roles: str):
    """Dependency factory: the caller must hold one of ``roles``."""

    def _check(identity: CurrentUser) -> Identity:
        if identity.role not in roles:
            names = ", ".join(roles)
            raise ForbiddenError(f"需要以下角色之一：{names}。 This needs one of the roles: {names}.",
                                 details={"required_roles": list(roles)})
        return identity

    return _check


class GatewayIdentityAuth(httpx.Auth):
    """httpx auth that signs each request, for service-to-service calls made on behalf of a user."""

    def __init__(self, key: str, identity: Identity) -> None:
        self.key = key
        self.identity = identity

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        target = request.url.raw_path.decode("latin-1")
        request.headers.update(sign_headers(self.key, self.identity, request.method, target))
        yield request
