"""The in-process bus: one instance, no Redis. Publishing is delivering."""

from __future__ import annotations

from tac.bus import Deliver, Repair
from tac.events import CONTROL, Event


class LocalBus:
    def __init__(self) -> None:
        self.reconnects = 0
        self._rooms: set[str] = {CONTROL}
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver, repair: Repair) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None

    async def publish(self, event: Event) -> None:
        if self._deliver is not None and event.room in self._rooms:
            self._deliver(event)

    async def subscribe(self, room: str) -> None:
        self._rooms.add(room)

    async def unsubscribe(self, room: str) -> None:
        self._rooms.discard(room)

    async def ping(self) -> bool:
        return True
