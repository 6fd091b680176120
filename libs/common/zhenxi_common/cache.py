"""The Redis client (created in lifespan). Keys are namespaced with the deployment's prefix."""
from __future__ import annotations

from redis.asyncio import Redis


def make_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=False, socket_connect_timeout=3, socket_timeout=3,
                          health_check_interval=30)


def key(prefix: str, *parts: str) -> str:
    return prefix + ":".join(parts)
