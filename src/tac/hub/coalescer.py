"""Events gathered into batches: at most one batch per window while busy, at once when quiet.

A frame costs a socket far more than its bytes, so when events come fast each socket
should get a window's worth as one frame; when the room is quiet, the first event goes
without delay.
"""

from __future__ import annotations

import asyncio
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
