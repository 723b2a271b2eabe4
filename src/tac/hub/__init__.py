"""This instance's live sockets: who listens to which room, and the fan-out to them.

The hub renders each event once per format (HTML for browsers, JSON for bots), puts the
same string on the bounded queue of every local socket in the room, then flushes each
socket (`Connection`). It is handed everything else: the renderer (web/), the reading
of a room's newest seq and of lost messages (chat/), the presence of a room. Its parts:
`connection` (a socket's queue), `order` (duplicates and gaps per room), `repair` (reading
back what the bus lost), `coalescer` (batches while busy), `debounce` (one presence update
for a wave of arrivals), `tasks` (the short tasks it owns).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tac.bus import Bus
from tac.events import CONTROL, LEFT, POSTED, PRESENCE, SESSION_ENDED, Event
from tac.hub.coalescer import Coalescer, LoadWindow
from tac.hub.connection import Connection, Item, Send
from tac.hub.debounce import Debounce
from tac.hub.order import RoomOrder
from tac.hub.repair import GapRepair, ReadMessages
from tac.hub.tasks import Tasks
from tac.metrics import DELIVERIES, DELIVERY_LATENCY, OPEN_SOCKETS

log = logging.getLogger(__name__)

__all__ = ["Connection", "Hub", "Item", "Render", "Send"]

Render = Callable[[Event, Any, str], str]
"""Turns an event and its payload (the Message, or the room's presence) into one format's text."""
RoomTop = Callable[[str], Awaitable[int]]
"""The newest seq of the room with this id."""
LoadPresence = Callable[[str], Awaitable[Any]]
"""Who is online in the room with this id, as the renderer wants it."""
ENDED_KEPT_SECONDS = 120.0
"""How long an ended session is remembered: longer than any socket takes to open."""


@dataclass
class RoomSockets:
    """One room's local sockets by format, and the order of what they were sent."""

    order: RoomOrder
    by_fmt: dict[str, set[Connection]] = field(default_factory=dict)

    def flush(self) -> None:
        for conns in self.by_fmt.values():
            for conn in conns:
                conn.flush()


class Hub:
    def __init__(
        self,
        bus: Bus,
        render: Render,
        room_top: RoomTop,
        read_messages: ReadMessages,
        load_presence: LoadPresence,
        gap_repair_seconds: float,
        presence_debounce_seconds: float = 0.0,
        coalesce_seconds: float = 0.0,
        coalesce_max_seconds: float = 0.0,
        busy_deliveries_per_second: float = 0.0,
        presence_push_sockets: int = 0,
    ) -> None:
        self.bus = bus
        self.render = render
        self.room_top = room_top
        self.load_presence = load_presence
        self.rooms: dict[str, RoomSockets] = {}
        self.connections: set[Connection] = set()
        self._tasks = Tasks()
        self._coalescer = Coalescer(coalesce_seconds)
        self._load = LoadWindow(coalesce_seconds, coalesce_max_seconds, busy_deliveries_per_second)
        self._repair = GapRepair(
            read_messages, self._order_of, self.deliver, gap_repair_seconds, self._tasks
        )
        self.presence_debounce = presence_debounce_seconds
        self.presence_sockets = presence_push_sockets
        self._presence = Debounce(self._presence_delay, self._push_presence, self._tasks)
        self._task: asyncio.Task[None] | None = None
        self._joining = asyncio.Lock()
        """Held while this instance subscribes to a room or unsubscribes from it."""
        self._ended: dict[tuple[str, str], float] = {}
        """(user, session) of sessions ended lately ("" for all of a user's), and when."""

    # -- lifetime -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(self.deliver, self.repair_all)
        self._task = asyncio.create_task(self._run(), name="hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._tasks.cancel_all()

    # -- sockets ------------------------------------------------------------------------
    async def attach(self, conn: Connection, room: str) -> None:
        sockets = self.rooms.get(room)
        if sockets is None:
            # Sockets arriving together in a room new to this instance: the first subscribes
            # and makes the room's state, the others wait and join that same state.
            async with self._joining:
                sockets = self.rooms.get(room)
                if sockets is None:
                    # Subscribe before reading the top: nothing published after it is missed.
                    await self.bus.subscribe(room)
                    order = RoomOrder(top=await self.room_top(room))
                    sockets = self.rooms[room] = RoomSockets(order)
        sockets.by_fmt.setdefault(conn.fmt, set()).add(conn)
        conn.rooms.add(room)
        if conn not in self.connections:
            self.connections.add(conn)
            OPEN_SOCKETS.inc()
            if self._ended and self._ended_for(conn):
                conn.close(1008)  # its session ended while it was being opened

    async def detach(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            OPEN_SOCKETS.dec()
        for room in list(conn.rooms):
            if self._remove(conn, room):
                await self._unsubscribe(room)

    def _remove(self, conn: Connection, room: str) -> bool:
        """Take `conn` out of `room`; True when it was the room's last socket here."""
        conn.rooms.discard(room)
        sockets = self.rooms.get(room)
        if sockets is None:
            return False
        sockets.by_fmt.get(conn.fmt, set()).discard(conn)
        if any(sockets.by_fmt.values()):
            return False
        del self.rooms[room]
        return True

    async def _unsubscribe(self, room: str) -> None:
        async with self._joining:
            if room not in self.rooms:  # nobody came back while we waited
                await self.bus.unsubscribe(room)

    def close_all(self, code: int) -> None:
        for conn in list(self.connections):
            conn.close(code)

    # -- events -------------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        """Called by the bus; the hub task does the work."""
        self._coalescer.put(event)

    def repair_all(self) -> None:
        """The bus lost events: read what each room has beyond what we delivered."""
        for room, sockets in list(self.rooms.items()):
            self._repair.beyond(room, sockets.order.top + 1)

    def _order_of(self, room: str) -> RoomOrder | None:
        sockets = self.rooms.get(room)
        return sockets.order if sockets is not None else None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        async for events in self._coalescer.batches():
            try:
                delivered = self._dispatch(events)
            except Exception:
                log.exception("hub: dispatching %d events failed", len(events))
                continue
            self._coalescer.window = self._load.observe(delivered, loop.time())

    def _dispatch(self, events: list[Event]) -> int:
        """Hand each event to its sockets; the number of deliveries."""
        delivered = 0
        touched: dict[str, RoomSockets] = {}
        for event in events:
            if event.room == CONTROL:
                self._control(event)
                continue
            sockets = self.rooms.get(event.room)
            if sockets is None:
                continue
            if event.kind == PRESENCE:
                self._presence.soon(event.room)
                continue
            if event.kind == LEFT:
                self._member_left(sockets, event.room, event.user)
                continue
            if event.kind != POSTED or event.message is None:
                continue
            if sockets.order.delivered(event.seq):
                continue
            gap = sockets.order.accept(event.seq)
            if gap is not None:
                self._repair.gap(event.room, *gap)
            delivered += self._fan_out(sockets, event, event.message)
            touched[event.room] = sockets
        for sockets in touched.values():  # each socket sends its share as one frame
            sockets.flush()
        return delivered

    def _control(self, event: Event) -> None:
        if event.kind == SESSION_ENDED:
            self._remember_ended(event.user, event.session)
            for conn in list(self.connections):
                if self._ended_for(conn):
                    conn.close(1008)  # policy: not reopened by htmx; the page asks to sign in

    def _remember_ended(self, user: str, session: str) -> None:
        """Kept a while, so that a socket whose handshake read its session just before the
        session ended, and which attaches just after the event was handled, is closed too
        (without reading the session again for every socket)."""
        now = time.monotonic()
        self._ended = {k: t for k, t in self._ended.items() if now - t < ENDED_KEPT_SECONDS}
        self._ended[user, session] = now

    def _ended_for(self, conn: Connection) -> bool:
        return bool(conn.session) and (
            (conn.user, conn.session) in self._ended or (conn.user, "") in self._ended
        )

    def _member_left(self, sockets: RoomSockets, room: str, user: str) -> None:
        """The user's member-only sockets stop receiving the room at once."""
        theirs = [conn for conns in sockets.by_fmt.values() for conn in conns if conn.user == user]
        for conn in theirs:
            conn.member_of.discard(room)
        leaving = [conn for conn in theirs if conn.member_only]
        if any([self._remove(conn, room) for conn in leaving]):
            self._tasks.spawn(self._unsubscribe(room), f"unsubscribe:{room}")

    def _presence_delay(self, room: str) -> float:
        """The debounce, longer in proportion for a room with more than presence_sockets
        sockets here: an arrival wave then costs frames in proportion to its length, not
        to its length times the room's size (an O(N^2) wave of presence frames)."""
        sockets = self.rooms.get(room)
        if sockets is None or self.presence_sockets <= 0:
            return self.presence_debounce
        here = sum(len(conns) for conns in sockets.by_fmt.values())
        return self.presence_debounce * max(1.0, here / self.presence_sockets)

    async def _push_presence(self, room: str) -> None:
        sockets = self.rooms.get(room)
        if sockets is None:
            return
        try:
            payload = await self.load_presence(room)
        except Exception:
            log.exception("hub: reading presence of room %s failed", room)
            return
        self._fan_out(sockets, Event(PRESENCE, room), payload)
        sockets.flush()

    def _fan_out(self, sockets: RoomSockets, event: Event, payload: Any) -> int:
        seq = event.seq if event.kind == POSTED else 0
        delivered = 0
        for fmt, conns in sockets.by_fmt.items():
            if not conns:
                continue
            item: Item = (event.room, seq, self.render(event, payload, fmt))
            for conn in conns:
                conn.push(item)
            delivered += len(conns)
        DELIVERIES.inc(delivered)
        if event.kind == POSTED:
            DELIVERY_LATENCY.observe(max(0.0, time.time() - payload.created_at.timestamp()))
        return delivered
