"""Limits kept in Redis, so they hold across gateway replicas.

Moving-window rate limits (the ``limits`` library): a bucket allows ``limit`` requests in any span of ``window_s``
seconds, so there is no window boundary to burst across (a fixed window let twice the limit through in a short span
around its edge).

A cap on heavy requests in flight per caller (``InFlightLimiter``): a rate limit does not stop one user from
holding every OCR worker with a burst of uploads that each take seconds; a count of open requests does. No library
we looked at does this with expiring per-request leases on asyncio Redis, so it is a sorted set and two short
scripts."""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

import anyio
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from zhenxi_common.errors import RateLimitedError

from .errors import TooManyInFlightError


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, window_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.window_s = window_s
        # Shares the app's Redis connection pool; keys live under our prefix.
        storage = RedisStorage("async+redis://", implementation="redispy", key_prefix=f"{prefix}rl",
                               connection_pool=redis.connection_pool)
        self.strategy = MovingWindowRateLimiter(storage)

    def bucket(self, kind: str, ident: str, limit: int) -> Bucket:
        return Bucket(f"{kind}:{ident}", limit)

    def _item(self, b: Bucket) -> RateLimitItemPerSecond:
        return RateLimitItemPerSecond(max(1, b.limit), self.window_s)

    async def check(self, buckets: list[Bucket], also_exists: str | None = None) -> bool:
        """Count this request in every bucket; raise 429 (with ``Retry-After``: when the oldest request in the
        window leaves it) if any is full. Returns whether ``also_exists`` exists (the revoked-token lookup)."""
        for b in buckets:
            item = self._item(b)
            if not await self.strategy.hit(item, b.key):
                stats = await self.strategy.get_window_stats(item, b.key)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimitedError(details={"limit": b.limit, "window_s": self.window_s,
                                                "retry_after_s": retry},
                                       headers={"Retry-After": str(retry)})
        return bool(await self.redis.exists(also_exists)) if also_exists else False


# KEYS[1]: the caller's sorted set of leases (member: one request, score: when its lease lapses, in ms of Redis
# time, so that every replica reads one clock). ARGV: cap, lease ms, member. Lapsed leases are dropped first: a
# gateway that died mid-request frees its slots when their leases lapse. A member not (or no longer) held is
# taken only under the cap: a new request, or one whose lease lapsed during a slow upload and whose slot may have
# gone to another request since. A held member's clock restarts (its upload is in; its upstream wait starts
# now). Returns {1, 0} when held, or {0, ms until the earliest open lease lapses}. The key itself expires with its
# last lease.
_LEASE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(0, tonumber(first[2]) - now)}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]))
return {1, 0}
"""


class Lease:
    """One request's slot. ``release`` is idempotent and safe to call from a cancelled task."""

    def __init__(self, limiter: InFlightLimiter, key: str, member: str, lease_ms: int, limit: int) -> None:
        self._limiter, self.key, self.member, self._lease_ms, self._limit = limiter, key, member, lease_ms, limit
        self._held = True

    async def renew(self) -> None:
        """Restart the lease's clock; raises 429 ``too_many_in_flight`` when it had lapsed and its slot was taken
        by then (the caller releases it as for any failure)."""
        if self._held:
            taken, lapses_in_ms = await self._limiter.lease_script(keys=[self.key],
                                                                   args=[self._limit, self._lease_ms, self.member])
            if not int(taken):
                raise self._limiter.refusal(self._limit, int(lapses_in_ms))

    async def release(self) -> None:
        if not self._held:
            return
        self._held = False
        # Shielded: a client that went away cancels the request's task, and the slot must be given back anyway.
        with anyio.CancelScope(shield=True):
            await self._limiter.redis.zrem(self.key, self.member)


class InFlightLimiter:
    """At most ``limit`` requests open at once per caller, across gateway replicas: each request holds a lease
    (a member of the caller's sorted set, scored by when it lapses) from before its body is read until its answer
    has been sent or it failed. The lease is sized to outlive the request, so it only lapses when a gateway died
    holding it."""

    def __init__(self, redis: Redis, prefix: str, retry_after_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retry_after_s = retry_after_s
        self.lease_script = redis.register_script(_LEASE)

    def key(self, ident: str) -> str:
        return f"{self.prefix}inflight:{ident}"

    async def acquire(self, ident: str, limit: int, lease_s: float) -> Lease:
        """Take a slot for ``ident`` or raise 429 ``too_many_in_flight``."""
        key, member, lease_ms = self.key(ident), uuid.uuid4().hex, max(1, math.ceil(lease_s * 1000))
        taken, lapses_in_ms = await self.lease_script(keys=[key], args=[limit, lease_ms, member])
        if not int(taken):
            raise self.refusal(limit, int(lapses_in_ms))
        return Lease(self, key, member, lease_ms, limit)

    def refusal(self, limit: int, lapses_in_ms: int) -> TooManyInFlightError:
        # Any open request may end at any moment; the earliest lapse is only the latest a slot can take.
        retry = max(1, min(self.retry_after_s, math.ceil(lapses_in_ms / 1000)))
        return TooManyInFlightError(details={"limit": limit, "retry_after_s": retry},
                                    headers={"Retry-After": str(retry)})
