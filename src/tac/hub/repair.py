"""Gap repair: the messages the bus lost, read back from the database and delivered.

The hub is handed the reading (`ReadMessages`), so it knows events, not MongoDB.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tac.events import Event, posted
from tac.hub.order import RoomOrder
from tac.hub.tasks import Tasks
from tac.models.message import Message

log = logging.getLogger(__name__)

ReadMessages = Callable[[str, int, "int | None"], Awaitable[list[Message]]]
"""Messages low..high of the room with this id (high None: up to its newest), by seq."""


class GapRepair:
    def __init__(
        self,
        read: ReadMessages,
        order_of: Callable[[str], RoomOrder | None],
        deliver: Callable[[Event], None],
        delay: float,
        tasks: Tasks,
    ) -> None:
        self.read = read
        self.order_of = order_of
        self.deliver = deliver
        self.delay = delay
        self.tasks = tasks

    def gap(self, room: str, low: int, high: int) -> None:
        """After the delay, deliver what is still missing of seqs low..high. Posts from
        several instances often arrive a little out of order: most gaps fill by themselves
        before the delay is over, and cost no read at all."""
        self.tasks.spawn(self._repair(room, self.delay, low, high), f"repair:{room}")

    def beyond(self, room: str, low: int) -> None:
        """Now, deliver what the room has from `low` on: the bus lost an unknown number."""
        self.tasks.spawn(self._repair(room, 0.0, low, None), f"repair:{room}")

    async def _repair(self, room: str, delay: float, low: int, high: int | None) -> None:
        await asyncio.sleep(delay)
        order = self.order_of(room)
        if order is None:
            return  # nobody listens there any more
        if high is not None:
            missing = order.missing(low, high)
            if not missing:
                return
            low, high = missing[0], missing[-1]
        try:
            found = await self.read(room, low, high)
        except Exception:
            log.exception("hub: repairing room %s failed", room)
            return
        for message in found:
            if not order.delivered(message.seq):
                self.deliver(posted(message))  # carried: not read a second time
