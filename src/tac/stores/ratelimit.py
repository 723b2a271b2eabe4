"""How often one key (a user, a username) may act: a sliding window of hits per key.

Both limiters behave alike: a hit is allowed while fewer than `limit` hits were allowed
in the last `window` seconds; a refused hit is not counted, and the answer says how long
until the oldest counted hit leaves the window.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from typing import Any, Protocol

from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def retry_after(self, key: str) -> float:
        """Record one hit for `key`; return 0 when allowed, else seconds to wait."""
        ...


class LocalRateLimiter:
    """Counts hits in this process: right for one instance, generous across many."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}

    async def retry_after(self, key: str) -> float:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return 0.0


# One script, one key: atomic, and on Redis Cluster the key's hash tag picks the shard.
# Redis's own clock, so instances whose clocks disagree still share one window.
# Times are whole microseconds (exact in a double); a hit's member is unique, so two hits
# in the same microsecond are two hits.
SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 0
"""


class RedisRateLimiter:
    """The same sliding window, shared by every instance: a sorted set of hit times per key."""

    def __init__(self, client: Any, prefix: str, limit: int, window: float) -> None:
        self.client = client
        self.prefix = prefix
        self.limit = limit
        self.window = window
        self._script = client.register_script(SLIDING_WINDOW)

    def key(self, key: str) -> str:
        return f"{self.prefix}:rate:{{{key}}}"

    async def retry_after(self, key: str) -> float:
        window_us = max(1, round(self.window * 1_000_000))
        try:
            wait_us = await self._script(
                keys=[self.key(key)], args=[self.limit, window_us, secrets.token_hex(8)]
            )
        except (RedisError, OSError) as e:
            # Fail open: while Redis is away people can still talk; limits resume with it.
            log.warning("rate limit: Redis unreachable (%s); allowing %s", e, key)
            return 0.0
        return int(wait_us) / 1_000_000
