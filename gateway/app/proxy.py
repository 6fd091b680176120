"""``/api/<service>/<path>`` → ``<service>/<path>``: authenticate, rate-limit, cap the caller's heavy requests in
flight, strip anything a client could use to impersonate (its own identity headers), sign the identity for the
service, and stream the answer back."""
from __future__ import annotations

import asyncio
import ipaddress
from functools import lru_cache

import anyio
import httpx
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from zhenxi_common.errors import UpstreamTimeoutError, UpstreamUnavailableError
from zhenxi_common.identity import IDENTITY_HEADERS, Identity, sign_headers
from zhenxi_common.logs import REQUEST_ID_HEADER, current_request_id

from .errors import AuthRequiredError, ScopeMissingError, TokenRevokedError, UnknownServiceError
from .ratelimit import Lease

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailers", "transfer-encoding", "upgrade", "host", "content-length"})
# Credentials stay at the gateway; the request id and the forwarding headers are set by the gateway itself.
NOT_FORWARDED = HOP_BY_HOP | {"authorization", "x-api-key", "cookie", REQUEST_ID_HEADER.lower(),
                              "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded",
                              *IDENTITY_HEADERS}
# Every X-Zhenxi-* header is the gateway's to set: whatever a client sends under that prefix is dropped.
PLATFORM_HEADER_PREFIX = "x-zhenxi-"
NOT_RETURNED = HOP_BY_HOP - {"content-length"} | {REQUEST_ID_HEADER.lower(), "set-cookie", "date", "server"}


def forwardable(name: str) -> bool:
    name = name.lower()
    return name not in NOT_FORWARDED and not name.startswith(PLATFORM_HEADER_PREFIX)


@lru_cache(maxsize=16)
def trusted_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``GATEWAY_TRUSTED_PROXIES``: comma-separated addresses or CIDR blocks of the proxies in front of us."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _is_trusted(address: str, nets) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_ip(request: Request) -> str:
    """The address rate limits and login back-off are keyed on. ``X-Forwarded-For`` counts only when the peer is
    a trusted proxy; then the chain is read from the right and the first hop that is not a trusted proxy is the
    client (anything left of it was written by the client and may be forged)."""
    peer = request.client.host if request.client else "unknown"
    nets = trusted_networks(request.app.state.settings.trusted_proxies)
    if not nets or not _is_trusted(peer, nets):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain proves nothing about the client: fall back to the proxy itself
        if not _is_trusted(hop, nets):
            return hop
    return peer


async def authenticate(request: Request) -> Identity:
    """Bearer access token or integrator API key → Identity, with rate limits counted on the way."""
    state = request.app.state
    s = state.settings
    limiter = state.limiter
    ip_bucket = limiter.bucket("ip", client_ip(request), s.rate_limit_per_ip)
    auth = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key")
    if auth.lower().startswith("bearer "):
        claims = state.auth.access_claims(auth[7:].strip())
        revoked = await limiter.check([ip_bucket, limiter.bucket("user", claims["sub"], s.rate_limit_per_user)],
                                      also_exists=state.auth.revoked_access_key(claims["jti"]))
        if revoked:
            raise TokenRevokedError()
        identity = Identity(user_id=claims["sub"], role=claims.get("role", "patient"))
    elif api_key:
        await limiter.check([ip_bucket])
        async with state.sessionmaker() as session:
            identity = await state.auth.identity_from_api_key(session, api_key)
        await limiter.check([limiter.bucket("user", identity.user_id, s.rate_limit_per_user)])
    else:
        await limiter.check([ip_bucket])
        raise AuthRequiredError()
    request.state.identity = identity
    return identity


class UpstreamResponse(StreamingResponse):
    """The service's answer, streamed back. Whatever way sending it ends (sent in full, the client gone, an error),
    the upstream connection is closed and the caller's in-flight slot, if any, is given back."""

    def __init__(self, upstream: httpx.Response, lease: Lease | None, headers: dict[str, str]) -> None:
        super().__init__(upstream.aiter_raw(), status_code=upstream.status_code, headers=headers)
        self.upstream = upstream
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()
                if self.lease is not None:
                    await self.lease.release()


async def take_in_flight_slot(request: Request, service: str, identity: Identity) -> Lease | None:
    """A slot for a heavy request (inference behind ``in_flight_services``), or None when this one is not."""
    s = request.app.state.settings
    if service not in s.in_flight_services or request.method.upper() not in s.in_flight_methods:
        return None
    return await request.app.state.in_flight.acquire(identity.user_id, s.in_flight_per_identity,
                                                     s.in_flight_lease_s(request.method, request.url.path))


async def forward(request: Request, service: str) -> StreamingResponse:
    state = request.app.state
    clients: dict[str, httpx.AsyncClient] = state.upstreams
    if service not in clients:
        raise UnknownServiceError(details={"service": service, "known": sorted(clients)})
    identity = await authenticate(request)
    if identity.via == "api_key" and service not in identity.scopes and "*" not in identity.scopes:
        raise ScopeMissingError(details={"service": service, "scopes": list(identity.scopes)})
    # Taken before the body is read, so a burst of uploads over the cap is refused without buffering them.
    lease = await take_in_flight_slot(request, service, identity)
    try:
        upstream = await _send_upstream(request, service, identity, lease)
    except BaseException:
        if lease is not None:
            await lease.release()
        raise
    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in NOT_RETURNED}
    return UpstreamResponse(upstream, lease, out_headers)


async def _send_upstream(request: Request, service: str, identity: Identity, lease: Lease | None) -> httpx.Response:
    state = request.app.state
    client: httpx.AsyncClient = state.upstreams[service]
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    prefix = f"/api/{service}".encode()
    target_path = raw_path[len(prefix):] or b"/"
    query = request.scope.get("query_string", b"")
    target = target_path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")

    headers = [(k, v) for k, v in request.headers.items() if forwardable(k)]
    headers += list(sign_headers(state.settings.internal_signing_key, identity, request.method, target).items())
    headers += [(REQUEST_ID_HEADER, current_request_id()), ("x-forwarded-for", client_ip(request)),
                ("x-forwarded-proto", request.url.scheme)]
    body = await request.body()
    if lease is not None:
        await lease.renew()  # the upload is in; the lease is sized from here
    budget = state.settings.upstream_budget_s(request.method, request.url.path)
    upstream_request = client.build_request(request.method, httpx.URL(target_path.decode("latin-1"), query=query),
                                            headers=headers, content=body,
                                            timeout=httpx.Timeout(budget, connect=min(budget, 2.0),
                                                                  read=max(budget,
                                                                           state.settings.stream_idle_timeout_s)))
    try:
        # The budget covers the whole wait for the answer to start, retries included.
        async with asyncio.timeout(budget):
            upstream = await client.send(upstream_request, stream=True)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamTimeoutError(f"{service} 服务未在 {budget:g} 秒内应答，请稍后再试。 "
                                   f"The {service} service did not answer within {budget:g} s.",
                                   details={"service": service, "budget_s": budget}) from exc
    except httpx.TransportError as exc:
        raise UpstreamUnavailableError(f"{service} 服务暂时不可用，请稍后再试。 "
                                       f"The {service} service is unavailable; try again shortly.",
                                       details={"service": service}) from exc
    return upstream
