"""Many requests for one room's update within a delay make one update (a reconnect wave
of N arrivals costs one presence read and one push, not N)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tac.hub.tasks import Tasks


class Debounce:
    """`delay` is seconds, or a function giving each room's (read when an update is asked
    for: a room whose updates cost more may wait longer)."""

    def __init__(
        self,
        delay: float | Callable[[str], float],
        action: Callable[[str], Awaitable[None]],
        tasks: Tasks,
    ):
        self.delay = delay
        self.action = action
        self.tasks = tasks
        self._due: set[str] = set()

    def soon(self, room: str) -> None:
        """Run the action for `room` after the delay, unless it is already due."""
        if room not in self._due:
            self._due.add(room)
            self.tasks.spawn(self._later(room), f"debounce:{room}")

    async def _later(self, room: str) -> None:
        await asyncio.sleep(self.delay(room) if callable(self.delay) else self.delay)
        self._due.discard(room)
        await self.action(room)
