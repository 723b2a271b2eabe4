"""What Tac keeps in Redis besides the bus: presence marks and rate-limit counters.

Both expire by themselves, so a crashed instance leaves nothing behind for long.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RedisPresenceStore:
    """A sorted set per room: member "user/instance", score the mark's expiry."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, room: str) -> str:
        return f"{self.prefix}:presence:{{{room}}}"

    async def mark(self, room: str, member: str, until: float) -> None:
        key = self.key(room)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {member: until})
            pipe.expireat(key, int(until) + 60)
            await pipe.execute()

    async def unmark(self, room: str, member: str) -> None:
        await self.client.zrem(self.key(room), member)

    async def members(self, room: str, now: float) -> set[str]:
        found = await self.client.zrangebyscore(self.key(room), f"({now}", "+inf")
        return {m.decode() if isinstance(m, bytes) else str(m) for m in found}

    async def sweep(self, room: str, now: float) -> int:
        removed: int = await self.client.zremrangebyscore(self.key(room), "-inf", now)
        return removed


class RedisRateLimiter:
    """A fixed window per user shared by every instance: INCR, with an EXPIRE to clean up."""

    def __init__(self, client: Any, prefix: str, limit: int, window: float) -> None:
        self.client = client
        self.prefix = prefix
        self.limit = limit
        self.window = window

    async def retry_after(self, key: str) -> float:
        window_start = int(time.time() // self.window)
        redis_key = f"{self.prefix}:rate:{{{key}}}:{window_start}"
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, int(self.window) + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as e:
            # Fail open: while Redis is away people can still talk; limits resume with it.
            log.warning("rate limit: Redis unreachable (%s); allowing %s", e, key)
            return 0.0
        if int(count) > self.limit:
            return (window_start + 1) * self.window - time.time()
        return 0.0
