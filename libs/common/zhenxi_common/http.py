"""Outbound HTTP: an httpx client with timeouts, retries on idempotent calls (tenacity) and a circuit breaker per
upstream (purgatory). The request id travels along in ``X-Request-ID``."""
from __future__ import annotations

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from .errors import UpstreamUnavailableError
from .logs import REQUEST_ID_HEADER, current_request_id

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


class ResilientTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, breakers: AsyncCircuitBreakerFactory, name: str,
                 attempts: int = 3) -> None:
        self.inner = inner
        self.breakers = breakers
        self.name = name
        self.attempts = attempts

    async def _send_once(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.status_code in RETRY_STATUSES and request.method in IDEMPOTENT:
            await response.aread()
            raise _RetryableStatus(response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if REQUEST_ID_HEADER.lower() not in request.headers:
            request.headers[REQUEST_ID_HEADER] = current_request_id()
        attempts = self.attempts if request.method in IDEMPOTENT else 1
        try:
            async with await self.breakers.get_breaker(self.name):
                try:
                    async for attempt in AsyncRetrying(
                        stop=stop_after_attempt(attempts), reraise=True,
                        wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05),
                        retry=retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
                    ):
                        with attempt:
                            return await self._send_once(request)
                except _RetryableStatus as final:
                    # Still failing after retries: counts against the breaker, but the caller sees the response.
                    raise _BreakerCounted(final.response) from None
        except _BreakerCounted as counted:
            return counted.response
        except OpenedState as exc:
            raise UpstreamUnavailableError(f"{self.name} 暂时不可用（熔断已打开），请稍后再试。 "
                                           f"{self.name} is unavailable (circuit open).",
                                           details={"upstream": self.name}) from exc
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.inner.aclose()


class _BreakerCounted(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


def make_breakers(threshold: int = 5, ttl_s: float = 30.0) -> AsyncCircuitBreakerFactory:
    return AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=ttl_s)


def make_http_client(base_url: str, *, name: str, breakers: AsyncCircuitBreakerFactory | None = None,
                     timeout_s: float = 10.0, connect_timeout_s: float = 2.0, attempts: int = 3,
                     auth: httpx.Auth | None = None, max_connections: int = 100) -> httpx.AsyncClient:
    inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=max_connections,
                                                         max_keepalive_connections=max_connections))
    transport = ResilientTransport(inner, breakers or make_breakers(), name, attempts)
    return httpx.AsyncClient(base_url=base_url, transport=transport, auth=auth,
                             timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s))
