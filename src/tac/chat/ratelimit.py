"""How often one user may post: a sliding window per key."""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol


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
