"""Events gathered into batches: at most one batch per window while busy, at once when quiet.

A frame costs a socket far more than its bytes, so when events come fast each socket
should get a window's worth as one frame; when the room is quiet, the first event goes
without delay. `LoadWindow` widens the window as the instance's load rises: fewer,
fuller frames, so the cost per delivered message falls as the offered rate rises.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

from tac.events import Event


class Coalescer:
    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._inbox: list[Event] = []
        self._wake = asyncio.Event()

    def put(self, event: Event) -> None:
        self._inbox.append(event)
        self._wake.set()

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Forever: the events that arrived since the last batch, in arrival order."""
        loop = asyncio.get_running_loop()
        last = -self.window
        while True:
            await self._wake.wait()
            wait = last + self.window - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            last = loop.time()
            self._wake.clear()
            batch, self._inbox = self._inbox, []
            yield batch


class LoadWindow:
    """The window for the load: `base` while this instance delivers fewer than `busy`
    messages/s (to all its sockets together), growing as (load / busy) ** 1.5 above that,
    up to `most`.

    Each socket then gets at most one frame per window: at 1,000 sockets and 10 messages/s
    (10,000 deliveries/s) a frame per message; at 40 messages/s, about six messages per
    frame, 150 ms apart (the defaults). The load is a rate with a one-second memory.
    """

    def __init__(self, base: float, most: float, busy: float, memory_seconds: float = 1.0) -> None:
        self.base = base
        self.most = max(base, most)
        self.busy = busy
        self.memory = memory_seconds
        self.rate = 0.0
        self._at: float | None = None

    def observe(self, deliveries: int, now: float) -> float:
        """Count `deliveries` made at `now`; the window to use from now on."""
        if self._at is not None:
            self.rate *= math.exp(-(now - self._at) / self.memory)
        self._at = now
        self.rate += deliveries / self.memory
        over = self.rate / self.busy if self.busy > 0 else 0.0
        if over <= 1:
            return self.base
        return min(self.most, self.base * math.pow(over, 1.5))
