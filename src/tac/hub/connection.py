"""One live socket's send side: a bounded queue, flushed as whole frames."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from tac.metrics import SLOW_CONSUMER_CLOSES

log = logging.getLogger(__name__)

Item = tuple[str, int, str]
"""(room, seq, text) as queued for a socket; seq is 0 for what is never deduplicated."""
Send = Callable[[str], Coroutine[Any, Any, None]]
"""Sends one frame on a socket."""


class Connection:
    """One live socket's send side: a bounded queue, flushed as whole frames.

    `flush` starts a send in the caller's own step, by hand (`step.send(None)`), rather than
    awaiting it in the socket's writer task. The reason is speed: a socket's send nearly
    always completes without waiting (the kernel takes the bytes), so the hub's loop over
    a room costs one call per socket and no task switch, no Event and no wake-up per socket
    per message (BENCHMARKS.md, "the hub flushes each socket itself": 29.4 and 31.2 µs per
    delivery against 32.3 and 42.0 with a writer task awaiting each send). A send that has
    to wait (a full socket buffer) is handed to the writer, which finishes it (`_Resumed`)
    and sends what queued meanwhile as one frame: batches grow by themselves when a socket
    falls behind, and a full queue closes it (1013). tests/hub/test_connection.py covers
    the three paths: completes at once, must wait, socket closed meanwhile.
    """

    __slots__ = (
        "catchup", "close_code", "closing", "fmt", "joiner", "limit", "member_of",
        "member_only", "pending", "rooms", "send", "sent_above", "session", "stalled", "user",
        "wake",
    )  # fmt: skip

    def __init__(
        self, user: str, fmt: str, limit: int, *, session: str = "", member_only: bool = False
    ) -> None:
        self.user = user
        self.session = session
        """The sign-in session the socket was opened in: ending it closes the socket."""
        self.member_only = member_only
        """Receives a room only while its user is a member (the API stream); a page's
        socket may read a public room as a visitor."""
        self.member_of: set[str] = set()
        """Rooms its user was found a member of; a LEFT event takes a room out at once, so a
        post on this socket needs no membership read (issue 11: two round trips a post)."""
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
        """Per room, the seq up to which the client holds everything: live copies up to it
        are dropped (`caught_up`)."""
        self.sent_above: dict[str, set[int]] = {}
        """Per room, seqs above the mark that the catch-up sent: their live copies too."""

    def caught_up(self, room: str, mark: int, sent: set[int] | None = None) -> None:
        """The client holds `room` up to `mark`, and `sent` besides. Never set the mark above
        a seq that may still arrive: its live event would be dropped, and lost for good."""
        self.catchup[room] = mark
        above = {seq for seq in sent or () if seq > mark}
        if above:
            self.sent_above[room] = above
        else:
            self.sent_above.pop(room, None)

    def push(self, item: Item) -> None:
        """Queue `item`; `flush` sends everything queued."""
        if len(self.pending) >= self.limit:
            if not self.closing.is_set():
                SLOW_CONSUMER_CLOSES.inc()
            self.close(1013)  # try again later: the client reconnects and catches up
            return
        self.pending.append(item)

    def flush(self) -> None:
        """Send everything queued as one frame, now, in the caller's own step (see the
        class's docstring for why by hand); a send that must wait goes to the writer."""
        if self.send is None or self.stalled is not None:
            return
        frame = self._take()
        if frame is None:
            return
        step = self.send(frame)
        try:
            self.stalled = (step, step.send(None))
        except StopIteration:
            return  # completed at once: the common case
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
            if self.sent_above:
                items = [i for i in items if i[1] not in self.sent_above.get(i[0], ())]
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
    yielded there): what `await coroutine` would have done from that point on. `await`
    itself cannot take over a coroutine that was started by hand."""

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
