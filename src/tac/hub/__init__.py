"""This instance's live sockets: who listens to which room, and the fan-out to them.

The hub renders each event once per format (HTML for browsers, JSON for bots), puts the
same string on the bounded queue of every local socket in the room, then flushes each
socket (`Connection`). It is handed everything else: the renderer (web/), the reading
of a room's newest seq and of lost messages (chat/), the presence of a room. Its parts:
`connection` (a socket's queue), `order` (duplicates and gaps per room), `repair` (reading
back what the bus lost), `coalescer` (batches while busy), `debounce` (one presence update
for a wave of arrivals), `tasks` (the short tasks it owns), `views` (what a page's one
socket shows: its open room, and coalesced unread badges of the others), `typing` (who is
typing, expiring by itself).
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
from tac.events import (
    CONTROL,
    JOINED,
    LEFT,
    MENTION,
    POSTED,
    PRESENCE,
    ROOM_READ,
    SESSION_ENDED,
    TYPING,
    UNREAD,
    Event,
)
from tac.hub.coalescer import Coalescer, LoadWindow
from tac.hub.connection import Connection, Item, Send
from tac.hub.debounce import Debounce
from tac.hub.order import RoomOrder
from tac.hub.repair import GapRepair, ReadMessages
from tac.hub.tasks import Tasks
from tac.hub.typing import Typing, Typists
from tac.hub.views import Badge, Badges, RoomUnread, View
from tac.metrics import DELIVERIES, DELIVERY_LATENCY, OPEN_SOCKETS

log = logging.getLogger(__name__)

__all__ = ["Badge", "Connection", "Hub", "Item", "Render", "RoomUnread", "Send", "Typing", "View"]

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
        badge_interval_seconds: float = 1.0,
        typing_expire_seconds: float = 6.0,
    ) -> None:
        self.bus = bus
        self.render = render
        self.room_top = room_top
        self.load_presence = load_presence
        self.rooms: dict[str, RoomSockets] = {}
        self.connections: set[Connection] = set()
        self.views: dict[Connection, View] = {}
        """Page sockets: what each shows (its open room, its user's unread badges)."""
        self._by_user: dict[str, set[Connection]] = {}
        self.names: dict[Connection, str] = {}
        """API streams' users by folded username: a mention of them is an event of its own."""
        self._badges = Badges(badge_interval_seconds, self._send_badges)
        self._badge_task: asyncio.Task[None] | None = None
        self._typists = Typists(typing_expire_seconds)
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
        self._joining: dict[str, asyncio.Lock] = {}
        """Per room, held while this instance subscribes to it or unsubscribes from it: one
        lock per room, so a page socket joining its user's many rooms, or many sockets
        arriving in many rooms, do not wait for each other's subscriptions."""
        self._ended: dict[tuple[str, str], float] = {}
        """(user, session) of sessions ended lately ("" for all of a user's), and when."""

    # -- lifetime -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(self.deliver, self.repair_all)
        self._task = asyncio.create_task(self._run(), name="hub")
        self._badge_task = asyncio.create_task(self._badges.run(), name="hub-badges")

    async def stop(self) -> None:
        for task in (self._task, self._badge_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._tasks.cancel_all()

    # -- sockets ------------------------------------------------------------------------
    async def attach(self, conn: Connection, room: str) -> None:
        sockets = self.rooms.get(room)
        if sockets is None:
            # Sockets arriving together in a room new to this instance: the first subscribes
            # and makes the room's state, the others wait and join that same state.
            async with self._lock(room):
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
            self._by_user.setdefault(conn.user, set()).add(conn)
            OPEN_SOCKETS.inc()
            if self._ended and self._ended_for(conn):
                conn.close(1008)  # its session ended while it was being opened

    async def detach(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            OPEN_SOCKETS.dec()
        mine = self._by_user.get(conn.user)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self._by_user[conn.user]
        self.views.pop(conn, None)
        self.names.pop(conn, None)
        self._badges.forget(conn)
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
        lock = self._lock(room)
        async with lock:
            if room not in self.rooms:  # nobody came back while we waited
                await self.bus.unsubscribe(room)
        if room not in self.rooms and not lock.locked():
            self._joining.pop(room, None)

    def _lock(self, room: str) -> asyncio.Lock:
        lock = self._joining.get(room)
        if lock is None:
            lock = self._joining[room] = asyncio.Lock()
        return lock

    # -- a page's one socket ------------------------------------------------------------
    def show(self, conn: Connection, view: View) -> None:
        """`conn` is a page's socket (attached to its user's rooms): messages of its open
        room go out whole, the others raise badges (sent with `badges_now`, then live)."""
        self.views[conn] = view
        self._by_user.setdefault(conn.user, set()).add(conn)  # in no room yet, it may join one

    async def open_room(self, conn: Connection, room: str) -> None:
        """The page shows `room` now. A room its user is not a member of (a visitor reading
        a public room) is received only while it is open."""
        view = self.views[conn]
        previous, view.open = view.open, room
        if room not in conn.rooms:
            await self.attach(conn, room)
        visited = previous and previous != room and not view.is_member(previous)
        if visited and previous in conn.rooms and self._remove(conn, previous):
            await self._unsubscribe(previous)

    def badges_now(self, conn: Connection) -> None:
        """Every badge of the page, as counted: after a hello, when the database counted."""
        view = self.views.get(conn)
        if view is not None:
            self._send_badges({conn: set(view.unread)})

    def _send_badges(self, batch: dict[Connection, set[str]]) -> None:
        rendered: dict[Badge, str] = {}
        for conn, rooms in batch.items():
            view = self.views.get(conn)
            if view is None or conn.closing.is_set():
                continue
            for room in sorted(rooms):
                unread = view.unread.get(room)
                shown = unread is not None and room != view.open
                badge = Badge(
                    room,
                    unread.count if shown and unread else 0,
                    view.cap,
                    unread.mentions if shown and unread else 0,
                    room in view.muted,
                )
                text = rendered.get(badge)
                if text is None:
                    text = rendered[badge] = self.render(Event(UNREAD, room), badge, "html")
                conn.push(("", 0, text))
            conn.flush()

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
            if event.kind == TYPING:
                self._typed(sockets, event)
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
            author = str(event.message.author)
            if event.room in self._typists and self._typists.stopped(event.room, author):
                self._push_typing(sockets, event.room)
        for sockets in touched.values():  # each socket sends its share as one frame
            sockets.flush()
        return delivered

    def _control(self, event: Event) -> None:
        if event.kind == ROOM_READ:
            self._room_read(event)
        elif event.kind == JOINED:
            if event.user in self._by_user:
                self._tasks.spawn(self._joined(event), f"joined:{event.about}")
        elif event.kind == SESSION_ENDED:
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
        """The user's member-only sockets stop receiving the room at once; their pages
        drop it from the sidebar, and receive it only while it is open (as visitors)."""
        theirs = [conn for conns in sockets.by_fmt.values() for conn in conns if conn.user == user]
        leaving = []
        for conn in theirs:
            conn.member_of.discard(room)
            view = self.views.get(conn)
            if view is not None:
                view.unread.pop(room, None)
                conn.push(("", 0, self.render(Event(LEFT, room, user=user), None, "html")))
                conn.flush()
            if conn.member_only or (view is not None and view.open != room):
                leaving.append(conn)
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

    async def _joined(self, event: Event) -> None:
        """The user joined a room: their open pages receive it at once (a badge, a sidebar
        entry); they had read everything in it so far."""
        room = event.about
        for conn in list(self._by_user.get(event.user, ())):
            view = self.views.get(conn)
            if view is None or view.is_member(room) or conn.closing.is_set():
                continue
            await self.attach(conn, room)
            sockets = self.rooms.get(room)
            top = sockets.order.top if sockets is not None else 0
            view.unread[room] = RoomUnread(read=top, base_top=top)
            conn.member_of.add(room)
            conn.push(("", 0, self.render(event, None, "html")))
            conn.flush()

    def _room_read(self, event: Event) -> None:
        """The user read a room somewhere: every page of theirs clears its badge, every
        stream of theirs is told."""
        room = event.about
        json_text: str | None = None
        for conn in self._by_user.get(event.user, ()):
            view = self.views.get(conn)
            if view is not None:
                unread = view.unread.get(room)
                if unread is not None and unread.read_up_to(event.seq):
                    self._badges.touch(conn, room)
            elif conn.fmt == "json" and room in conn.rooms:
                if json_text is None:
                    json_text = self.render(event, None, "json")
                conn.push(("", 0, json_text))
                conn.flush()

    # -- typing ---------------------------------------------------------------------------
    def _typed(self, sockets: RoomSockets, event: Event) -> None:
        self._typists.typed(event.room, event.user, event.name)
        self._push_typing(sockets, event.room)
        json_text = None
        for conn in sockets.by_fmt.get("json", ()):
            if conn.user != event.user:
                json_text = json_text or self.render(event, None, "json")
                conn.push(("", 0, json_text))
                conn.flush()
        self._tasks.spawn(self._expire_typing(event.room), f"typing:{event.room}")

    async def _expire_typing(self, room: str) -> None:
        await asyncio.sleep(self._typists.expire_seconds + 0.05)
        sockets = self.rooms.get(room)
        if self._typists.expire(room) and sockets is not None:
            self._push_typing(sockets, room)

    def _push_typing(self, sockets: RoomSockets, room: str) -> None:
        """Each page showing the room gets who else is typing there."""
        rendered: dict[tuple[str, ...], str] = {}
        event = Event(TYPING, room)
        for conn in sockets.by_fmt.get("html", ()):
            view = self.views.get(conn)
            if view is None or view.open != room:
                continue
            names = self._typists.shown_to(room, conn.user)
            text = rendered.get(names)
            if text is None:
                text = rendered[names] = self.render(event, Typing(room, names), "html")
            conn.push(("", 0, text))
            conn.flush()

    async def _push_presence(self, room: str) -> None:
        sockets = self.rooms.get(room)
        if sockets is None or not self._shown_here(sockets, room):
            return
        try:
            payload = await self.load_presence(room)
        except Exception:
            log.exception("hub: reading presence of room %s failed", room)
            return
        self._fan_out(sockets, Event(PRESENCE, room), payload)
        sockets.flush()

    def _shown_here(self, sockets: RoomSockets, room: str) -> bool:
        """Whether a socket here shows the room's members: a page with the room on screen,
        or an API stream. A page socket carries all its user's rooms, but lists only the
        open room's members: the others' presence is not read at all."""
        if sockets.by_fmt.get("json"):
            return True
        for conn in sockets.by_fmt.get("html", ()):
            view = self.views.get(conn)
            if view is None or view.open == room:
                return True
        return False

    def _fan_out(self, sockets: RoomSockets, event: Event, payload: Any) -> int:
        seq = event.seq if event.kind == POSTED else 0
        delivered = 0
        for fmt, conns in sockets.by_fmt.items():
            if not conns:
                continue
            item: Item = (event.room, seq, self.render(event, payload, fmt))
            views = self.views if fmt == "html" else None
            if not views:
                for conn in conns:
                    conn.push(item)
                delivered += len(conns)
                if fmt == "json" and seq and payload.mentions and self.names:
                    self._mention_events(conns, event)
                continue
            for conn in conns:
                view = views.get(conn)
                if view is None or view.open == event.room:
                    conn.push(item)
                    delivered += 1
                elif seq:  # a page showing another room: the badge, coalesced
                    self._count_unread(conn, view, event)
        DELIVERIES.inc(delivered)
        if event.kind == POSTED:
            DELIVERY_LATENCY.observe(max(0.0, time.time() - payload.created_at.timestamp()))
        return delivered

    def _mention_events(self, conns: set[Connection], event: Event) -> None:
        message = event.message
        assert message is not None
        author = str(message.author)
        text = ""
        for conn in conns:
            if conn.user != author and mentions(message.mentions, self.names.get(conn, "")):
                text = text or self.render(Event(MENTION, event.room, event.seq), message, "json")
                conn.push(("", 0, text))

    def _count_unread(self, conn: Connection, view: View, event: Event) -> None:
        unread = view.unread.get(event.room)
        message = event.message
        if unread is None or message is None or str(message.author) == conn.user:
            return
        mentioned = bool(message.mentions) and mentions(message.mentions, view.username)
        if unread.posted(event.seq, view.cap, mentioned):
            self._badges.touch(conn, event.room)


def mentions(names: tuple[str, ...] | None, username: str) -> bool:
    """Whether a message naming `names` mentions the user with this (folded) username."""
    return bool(names) and (username in names or "room" in names)  # type: ignore[operator]
