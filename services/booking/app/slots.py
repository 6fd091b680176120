"""Live slot counts in Redis: a cache in front of ``sessions.remaining`` plus a pub/sub channel per session that
feeds the SSE stream. Postgres stays the truth: every write carries the row's ``version`` and a Lua script keeps
only the newest, a miss or a mismatch found on a read is rewritten from the database, and entries expire.
Redis being down or flushed never blocks or breaks a booking; it only costs the cache."""
from __future__ import annotations

import json
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("booking.slots")

# KEYS[1]=hash; ARGV: remaining, version, ttl, force, status. Keeps the entry with the highest version.
_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], 'v')
if ARGV[4] == '0' and cur and tonumber(cur) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'v', ARGV[2], 's', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class SlotCounts:
    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._script = redis.register_script(_SET_IF_NEWER)

    def key(self, session_id: uuid.UUID | str) -> str:
        return f"{self.prefix}booking:slots:{session_id}"

    def channel(self, session_id: uuid.UUID | str) -> str:
        return f"{self.prefix}booking:slots-events:{session_id}"

    def hold_key(self, hold_id: uuid.UUID | str) -> str:
        return f"{self.prefix}booking:hold:{hold_id}"

    async def changed(self, session_id: uuid.UUID, remaining: int, version: int, status: str = "open") -> None:
        """After a commit that changed a session: update the cache (if newer) and tell SSE listeners."""
        try:
            await self._script(keys=[self.key(session_id)], args=[remaining, version, self.ttl_s, "0", status])
            await self.redis.publish(self.channel(session_id), json.dumps(
                {"session_id": str(session_id), "remaining": remaining, "version": version, "status": status}))
        except RedisError as exc:
            log.warning("slot cache update failed", extra={"session_id": str(session_id), "error": type(exc).__name__})

    async def store(self, session_id: uuid.UUID, remaining: int, version: int, status: str) -> None:
        """Cache a count read from Postgres, unless a newer one is already there."""
        try:
            await self._script(keys=[self.key(session_id)], args=[remaining, version, self.ttl_s, "0", status])
        except RedisError:
            pass

    async def get(self, session_id: uuid.UUID) -> tuple[int, int] | None:
        try:
            raw = await self.redis.hmget(self.key(session_id), "r", "v")
        except RedisError:
            return None
        if raw[0] is None or raw[1] is None:
            return None
        return int(raw[0]), int(raw[1])

    async def gate(self, session_id: uuid.UUID, user_id: str) -> tuple[int, str, bool] | None:
        """(remaining, status, whether this user holds a slot) from the cache in one round trip, or None on a
        miss or when Redis is unavailable."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self.key(session_id), "r", "s")
                pipe.exists(self.holder_key(session_id, user_id))
                (remaining, status), holds = await pipe.execute()
        except RedisError:
            return None
        if remaining is None or status is None:
            return None
        return int(remaining), status.decode(), bool(holds)

    async def heal(self, session_id: uuid.UUID, remaining: int, version: int, status: str) -> bool:
        """Rewrite the entry from the database's values when it is missing or differs; True if it was rewritten."""
        if await self.get(session_id) == (remaining, version):
            return False
        try:
            await self._script(keys=[self.key(session_id)], args=[remaining, version, self.ttl_s, "1", status])
        except RedisError:
            return False
        return True

    def holder_key(self, session_id: uuid.UUID | str, user_id: str) -> str:
        return f"{self.prefix}booking:holder:{session_id}:{user_id}"

    async def remember_hold(self, hold_id: uuid.UUID, session_id: uuid.UUID, user_id: str, ttl_s: int) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.hold_key(hold_id), user_id, ex=max(1, ttl_s))
                pipe.set(self.holder_key(session_id, user_id), str(hold_id), ex=max(1, ttl_s))
                await pipe.execute()
        except RedisError as exc:
            log.warning("hold key write failed", extra={"error": type(exc).__name__})

    async def forget_hold(self, hold_id: uuid.UUID, session_id: uuid.UUID, user_id: str) -> None:
        try:
            await self.redis.delete(self.hold_key(hold_id), self.holder_key(session_id, user_id))
        except RedisError:
            pass
