"""Per-account slow-down of password guessing that never locks the real user out.

Failed logins are counted per account (in Redis, forgotten after ``login_failure_memory_s``). After
``login_free_failures`` of them, each further attempt for that account must wait for a gate that stays shut
``base * 2^(extra failures)`` seconds (capped at ``login_backoff_max_s``): guessing slows to a crawl, yet the
account is never locked, the real user only waits at most the cap. A client that has logged in to the account
before (a known client: account and address, remembered for ``login_known_client_ttl_s``) is counted on its own,
so a stranger's failures never slow the real user on their usual connection. Keys hold HMACs, not usernames or
addresses."""
from __future__ import annotations

import hashlib
import hmac
import math

from redis.asyncio import Redis

from .config import Settings
from .errors import LoginBackoffError


class LoginGuard:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.s = settings

    def _key(self, kind: str, *parts: str) -> str:
        digest = hmac.new(self.s.pii_key.encode(), "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:40]
        return f"{self.s.redis_key_prefix}login:{kind}:{digest}"

    async def _scope(self, username: str, client: str) -> str:
        """Whose failures this attempt is counted with: the account's strangers, or this known client alone."""
        known = await self.redis.exists(self._key("known", username, client))
        return self._key("scope", username, client) if known else self._key("scope", username)

    def delay_s(self, failures: int) -> float:
        extra = failures - self.s.login_free_failures
        return 0.0 if extra < 0 else min(self.s.login_backoff_base_s * 2 ** extra, self.s.login_backoff_max_s)

    async def admit(self, username: str, client: str) -> str:
        """Let the attempt through, or raise 429 ``login_backoff`` with the wait. Returns the scope to report to."""
        scope = await self._scope(username, client)
        failures = int(await self.redis.get(f"{scope}:failures") or 0)
        delay = self.delay_s(failures)
        if delay > 0:
            # One attempt per gate period: the first to claim the gate proceeds, the rest wait.
            if not await self.redis.set(f"{scope}:gate", b"1", px=int(delay * 1000), nx=True):
                ttl_ms = await self.redis.pttl(f"{scope}:gate")
                retry = max(1, math.ceil(max(ttl_ms, 0) / 1000))
                raise LoginBackoffError(details={"retry_after_s": retry}, headers={"Retry-After": str(retry)})
        return scope

    async def failed(self, scope: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(f"{scope}:failures")
        pipe.expire(f"{scope}:failures", self.s.login_failure_memory_s)
        await pipe.execute()

    async def succeeded(self, scope: str, username: str, client: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(f"{scope}:failures", f"{scope}:gate")
        pipe.set(self._key("known", username, client), b"1", ex=self.s.login_known_client_ttl_s)
        await pipe.execute()
