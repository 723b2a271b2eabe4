"""What a page's socket shows: its open room, and the unread badges of its user's rooms.

One socket per page carries every room of its user. A message in the open room goes out
whole; a message elsewhere raises that room's badge instead, and `Badges` sends a socket
at most one badge update per room per interval, carrying the latest count: a busy room
costs its members who are not looking one small frame a second, not one per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from tac.hub.connection import Connection


@dataclass
class RoomUnread:
    """One room's unread count as one socket knows it: what the database counted when the
    socket said hello (`base`, up to `base_top`), and the seqs by others seen live since."""

    read: int
    base: int = 0
    base_top: int = 0
    above: set[int] = field(default_factory=set)
    base_mentions: int = 0
    mentions_above: set[int] = field(default_factory=set)
    """Of `above`, the seqs that mention the user."""

    @property
    def count(self) -> int:
        return self.base + len(self.above)

    @property
    def mentions(self) -> int:
        return self.base_mentions + len(self.mentions_above)

    def posted(self, seq: int, cap: int, mentioned: bool = False) -> bool:
        """A message by someone else: True when the count changed."""
        if seq <= self.read or seq <= self.base_top or seq in self.above:
            return False
        if mentioned:
            self.mentions_above.add(seq)
        if self.count >= cap:
            return mentioned
        self.above.add(seq)
        return True

    def counted(self, read: int, base: int, top: int, mentions: int = 0) -> None:
        """What the database counted (unread up to `top`); the seqs seen live above stay."""
        self.read = max(self.read, read)
        self.base, self.base_top, self.base_mentions = base, top, mentions
        self.above = {s for s in self.above if s > top and s > self.read}
        self.mentions_above = {s for s in self.mentions_above if s > top and s > self.read}

    def read_up_to(self, seq: int) -> bool:
        """The user read the room up to `seq` (here or elsewhere): True when the count changed."""
        before = self.count
        self.read = max(self.read, seq)
        mentions_before = self.mentions
        if seq >= self.base_top:
            self.base = self.base_mentions = 0
        self.above = {s for s in self.above if s > seq}
        self.mentions_above = {s for s in self.mentions_above if s > seq}
        return self.count != before or self.mentions != mentions_before


@dataclass
class View:
    """A page socket's view: the room it shows, and the unread state of its user's rooms."""

    open: str = ""
    """The id of the room on screen ("" before the hello)."""
    unread: dict[str, RoomUnread] = field(default_factory=dict)
    """Per room the user is a member of."""
    cap: int = 999
    username: str = ""
    """The user's username folded to lower case: how messages name them (`mentions`)."""
    muted: set[str] = field(default_factory=set)
    """Rooms the user muted: their badges stay grey, and mention no one."""

    def is_member(self, room: str) -> bool:
        return room in self.unread


@dataclass(frozen=True, slots=True)
class Badge:
    """What a sidebar badge shows: what the renderer gets with an UNREAD event."""

    room: str
    count: int
    cap: int = 999
    mentions: int = 0
    muted: bool = False


SendBadges = Callable[[dict[Connection, set[str]]], None]


class Badges:
    """Collects which (socket, room) badges changed; sends them all once per interval."""

    def __init__(self, interval: float, send: SendBadges) -> None:
        self.interval = interval
        self.send = send
        self._dirty: dict[Connection, set[str]] = {}
        self._wake = asyncio.Event()

    def touch(self, conn: Connection, room: str) -> None:
        self._dirty.setdefault(conn, set()).add(room)
        self._wake.set()

    def forget(self, conn: Connection) -> None:
        self._dirty.pop(conn, None)

    async def run(self) -> None:
        """Sends at once when quiet, then no more than once per interval."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._dirty = self._dirty, {}
            if batch:
                self.send(batch)
            await asyncio.sleep(self.interval)
