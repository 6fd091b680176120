"""Moving-window rate limits in Redis (the ``limits`` library): a bucket allows ``limit`` requests in any span of
``window_s`` seconds, so there is no window boundary to burst across (a fixed window let twice the limit through
in a short span around its edge)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
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
