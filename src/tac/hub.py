"""This instance's live sockets: who listens to which room, and the fan-out to them.

The hub renders each event once per format (HTML for browsers, JSON for bots), puts the
same string on the bounded queue of every local socket in the room, then flushes each
socket: a send that completes at once is done right there, in the hub's own step; one
that would wait is left to that socket's writer. A socket whose queue is full is slow: it
is told to close, and never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId

from tac.bus import Bus
from tac.chat.events import POSTED, PRESENCE, Event
from tac.chat.messages import messages_between, messages_of, posted
from tac.metrics import DELIVERIES, DELIVERY_LATENCY, OPEN_SOCKETS, SLOW_CONSUMER_CLOSES

log = logging.getLogger(__name__)

Render = Callable[[Event, Any, str], str]
"""Turns an event and its payload (the Message, or the room's presence) into one format's text."""
LoadPresence = Callable[[str], Awaitable[Any]]

Item = tuple[str, int, str]
"""(room, seq, text) as queued for a socket; seq is 0 for what is never deduplicated."""
Send = Callable[[str], Coroutine[Any, Any, None]]
"""Sends one frame on a socket."""


class Connection:
    """One live socket's send side: a bounded queue, flushed as whole frames."""

    __slots__ = (
        "catchup", "close_code", "closing", "fmt", "joiner", "limit", "pending", "rooms",
        "send", "stalled", "user", "wake",
    )  # fmt: skip

    def __init__(self, user: str, fmt: str, limit: int) -> None:
        self.user = user
        self.fmt = fmt
        self.joiner = "\n" if fmt == "json" else ""
        """HTML fragments concatenate into one frame; JSON events go one per line."""
        self.limit = limit
        self.rooms: set[str] = set()
        self.pending: list[Item] = []
        self.send: Send | None = None
        """The socket's own sender, from when its writer runs (`write`)."""
        self.stalled: tuple[Coroutine[Any, Any, None], Any] | None = None
        """A send that had to wait, and what it waits for: the writer finishes it."""
        self.wake = asyncio.Event()
        self.closing = asyncio.Event()
        self.close_code = 1000
        self.catchup: dict[str, int] = {}
        """Per room, the highest seq the catch-up sent: live copies up to it are dropped."""

    def push(self, item: Item) -> None:
        """Queue `item`; `flush` sends everything queued."""
        if len(self.pending) >= self.limit:
            if not self.closing.is_set():
                SLOW_CONSUMER_CLOSES.inc()
            self.close(1013)  # try again later: the client reconnects and catches up
            return
        self.pending.append(item)

    def flush(self) -> None:
        """Send everything queued as one frame, now, in the caller's own step.

        A socket's send nearly always completes without waiting (the kernel takes the
        bytes): then the hub's loop over a room costs one call per socket, and no task
        switch. A send that has to wait (a full socket buffer) is left to the writer,
        and what is queued meanwhile goes after it, as one frame: batches grow by
        themselves when a socket falls behind, and a full queue closes it (1013).
        """
        if self.send is None or self.stalled is not None:
            return
        frame = self._take()
        if frame is None:
            return
        step = self.send(frame)
        try:
            self.stalled = (step, step.send(None))
        except StopIteration:
            return
        except Exception:
            log.exception("sending to a socket of user %s failed", self.user)
            self.close(1011)
            return
        self.wake.set()

    async def write(self, send: Send) -> None:
        """The socket's writer, for as long as the socket: starts the sending (what was
        queued before it started goes first), then finishes the sends that had to wait."""
        self.send = send
        self.flush()
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                if self.stalled is None:
                    continue
                await _Resumed(*self.stalled)
                while (frame := self._take()) is not None:
                    await send(frame)
                self.stalled = None
        finally:
            self.send = None
            if self.stalled is not None:
                self.stalled[0].close()

    def _take(self) -> str | None:
        items, self.pending = self.pending, []
        if self.catchup:
            items = [i for i in items if i[1] == 0 or i[1] > self.catchup.get(i[0], 0)]
        if len(items) == 1:
            return items[0][2]
        return self.joiner.join(i[2] for i in items) if items else None

    def close(self, code: int) -> None:
        """Ask the socket's owner to close it with `code`."""
        if not self.closing.is_set():
            self.close_code = code
            self.closing.set()


class _Resumed:
    """Awaits a coroutine that has already run up to its first wait (`waiting`, what it
    yielded there): what `await coroutine` would have done from that point on."""

    __slots__ = ("step", "waiting")

    def __init__(self, step: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.step = step
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, None]:
        step, waiting = self.step, self.waiting
        while True:
            try:
                result = yield waiting
            except BaseException as exc:  # cancelled, say: the coroutine gets to unwind
                try:
                    waiting = step.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = step.send(result)
                except StopIteration:
                    return


@dataclass
class RoomState:
    """What this instance has delivered in one room, to drop duplicates and see gaps."""

    top: int
    seen: set[int] = field(default_factory=set)
    order: deque[int] = field(default_factory=deque)
    by_fmt: dict[str, set[Connection]] = field(default_factory=dict)

    def flush(self) -> None:
        for conns in self.by_fmt.values():
            for conn in conns:
                conn.flush()

    def first_time(self, seq: int, keep: int = 4096) -> bool:
        if seq in self.seen:
            return False
        self.seen.add(seq)
        self.order.append(seq)
        if len(self.order) > keep:
            self.seen.discard(self.order.popleft())
        return True


class Hub:
    def __init__(
        self,
        bus: Bus,
        render: Render,
        room_top: Callable[[str], Awaitable[int]],
        load_presence: LoadPresence,
        gap_repair_seconds: float,
        presence_debounce_seconds: float = 0.0,
        coalesce_seconds: float = 0.0,
    ) -> None:
        self.bus = bus
        self.render = render
        self.room_top = room_top
        self.load_presence = load_presence
        self.gap_repair_seconds = gap_repair_seconds
        self.presence_debounce_seconds = presence_debounce_seconds
        self.coalesce_seconds = coalesce_seconds
        self._presence_due: set[str] = set()
        self.rooms: dict[str, RoomState] = {}
        self.connections: set[Connection] = set()
        self._inbox: list[Event] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._joining = asyncio.Lock()
        """Held while this instance subscribes to a room or unsubscribes from it."""

    # -- lifetime -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.start(self.deliver, self.repair_all)
        self._task = asyncio.create_task(self._run(), name="hub")

    async def stop(self) -> None:
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- sockets ------------------------------------------------------------------------
    async def attach(self, conn: Connection, room: str) -> None:
        state = self.rooms.get(room)
        if state is None:
            # Sockets arriving together in a room new to this instance: the first subscribes
            # and makes the room's state, the others wait and join that same state.
            async with self._joining:
                state = self.rooms.get(room)
                if state is None:
                    # Subscribe before reading the top: nothing published after it is missed.
                    await self.bus.subscribe(room)
                    state = self.rooms[room] = RoomState(top=await self.room_top(room))
        state.by_fmt.setdefault(conn.fmt, set()).add(conn)
        conn.rooms.add(room)
        if conn not in self.connections:
            self.connections.add(conn)
            OPEN_SOCKETS.inc()

    async def detach(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            OPEN_SOCKETS.dec()
        for room in conn.rooms:
            state = self.rooms.get(room)
            if state is None:
                continue
            state.by_fmt.get(conn.fmt, set()).discard(conn)
            if not any(state.by_fmt.values()):
                del self.rooms[room]
                async with self._joining:
                    if room not in self.rooms:  # nobody came back while we waited
                        await self.bus.unsubscribe(room)
        conn.rooms.clear()

    def close_all(self, code: int) -> None:
        for conn in list(self.connections):
            conn.close(code)

    def listeners(self, room: str) -> int:
        state = self.rooms.get(room)
        return sum(len(c) for c in state.by_fmt.values()) if state else 0

    # -- events -------------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        """Called by the bus; the hub task does the work."""
        self._inbox.append(event)
        self._wake.set()

    def repair_all(self) -> None:
        """The bus lost events: read what each room has beyond what we delivered."""
        for room, state in list(self.rooms.items()):
            self._spawn_repair(room, 0.0, state.top + 1, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = 0.0
        while True:
            await self._wake.wait()
            # Busy: at most one dispatch per coalesce window, so each socket gets the window's
            # events as one frame (a frame costs far more than its bytes). Quiet: at once.
            wait = last + self.coalesce_seconds - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            last = loop.time()
            self._wake.clear()
            events, self._inbox = self._inbox, []
            try:
                await self._dispatch(events)
            except Exception:
                log.exception("hub: dispatching %d events failed", len(events))

    async def _dispatch(self, events: list[Event]) -> None:
        messages = await messages_of([e for e in events if e.room in self.rooms])
        touched: dict[str, RoomState] = {}
        for event in events:
            state = self.rooms.get(event.room)
            if state is None:
                continue
            if event.kind == PRESENCE:
                self._presence_soon(event.room)
                continue
            if event.kind == POSTED:
                if not state.first_time(event.seq):
                    continue
                if event.seq > state.top + 1:
                    self._spawn_repair(
                        event.room, self.gap_repair_seconds, state.top + 1, event.seq - 1
                    )
                state.top = max(state.top, event.seq)
            payload = messages.get(event.message_id)
            if payload is not None:
                self._fan_out(state, event, payload)
                touched[event.room] = state
        for state in touched.values():  # each socket sends its share as one frame
            state.flush()

    def _presence_soon(self, room: str) -> None:
        """People arriving together (a reconnect wave) cost one presence update, not one each."""
        if room not in self._presence_due:
            self._presence_due.add(room)
            self._spawn(self._push_presence(room), f"presence:{room}")

    async def _push_presence(self, room: str) -> None:
        await asyncio.sleep(self.presence_debounce_seconds)
        self._presence_due.discard(room)
        state = self.rooms.get(room)
        if state is None:
            return
        try:
            payload = await self.load_presence(room)
        except Exception:
            log.exception("hub: reading presence of room %s failed", room)
            return
        self._fan_out(state, Event(PRESENCE, room), payload)
        state.flush()

    def _fan_out(self, state: RoomState, event: Event, payload: Any) -> None:
        seq = event.seq if event.kind == POSTED else 0
        delivered = 0
        for fmt, conns in state.by_fmt.items():
            if not conns:
                continue
            item: Item = (event.room, seq, self.render(event, payload, fmt))
            for conn in conns:
                conn.push(item)
            delivered += len(conns)
        DELIVERIES.inc(delivered)
        if event.kind == POSTED:
            DELIVERY_LATENCY.observe(max(0.0, time.time() - payload.created_at.timestamp()))

    # -- gaps ---------------------------------------------------------------------------
    def _spawn_repair(self, room: str, delay: float, low: int, high: int | None) -> None:
        """After `delay`, deliver what is still missing of seqs low..high (None: the room's
        newest). Posts from several instances often arrive a little out of order: most
        gaps fill by themselves before the delay is over, and cost no read at all."""
        self._spawn(self._repair(room, delay, low, high), f"repair:{room}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """A short task the hub owns: stop() cancels whatever is still running."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _repair(self, room: str, delay: float, low: int, high: int | None) -> None:
        await asyncio.sleep(delay)
        state = self.rooms.get(room)
        if state is None:
            return
        if high is not None:
            missing = [seq for seq in range(low, high + 1) if seq not in state.seen]
            if not missing:
                return
            low, high = missing[0], missing[-1]
        try:
            top = high if high is not None else await self.room_top(room)
            found = await messages_between(PydanticObjectId(room), low, top)
        except Exception:
            log.exception("hub: repairing room %s failed", room)
            return
        for message in found:
            if message.seq not in state.seen:
                self.deliver(posted(message))  # carried: not read a second time
