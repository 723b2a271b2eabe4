"""Carries events between instances. The hub subscribes to the rooms it has sockets in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tac.events import Event

Deliver = Callable[[Event], None]
"""Called for each event of a subscribed room, in the order the bus received them."""
Repair = Callable[[], None]
"""Called after the bus lost its connection and got it back: events may be missing."""


class Bus(Protocol):
    reconnects: int

    async def start(self, deliver: Deliver, repair: Repair) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    async def subscribe(self, room: str) -> None: ...

    async def unsubscribe(self, room: str) -> None: ...

    async def ping(self) -> bool: ...
