"""What a page's socket shows: its open room, and the unread badges of its user's rooms.

One socket per page carries every room of its user. A message in the open room goes out
whole; a message elsewhere raises that room's badge instead, and `Badges` sends a socket
at most one badge update per room per interval, carrying the latest count: a busy room
costs its members who are not looking one small frame a second, not one per message.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, bisect_right
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
    above: list[int] = field(default_factory=list)
    """Sorted. A list, not a set: a thousand sockets each holding a busy room's unread seqs
    cost 8 bytes a seq this way (the int objects are the events' own, shared)."""
    base_mentions: int = 0
    mentions_above: list[int] = field(default_factory=list)
    """Of `above`, the seqs that mention the user (sorted)."""

    @property
    def count(self) -> int:
        return self.base + len(self.above)

    @property
    def mentions(self) -> int:
        return self.base_mentions + len(self.mentions_above)

    def posted(self, seq: int, cap: int, mentioned: bool = False) -> bool:
        """A message by someone else: True when the count changed."""
        if seq <= self.read or seq <= self.base_top or _holds(self.above, seq):
            return False
        if mentioned:
            _insert(self.mentions_above, seq)
        if self.count >= cap:
            return mentioned
        _insert(self.above, seq)
        return True

    def counted(self, read: int, base: int, top: int, mentions: int = 0) -> None:
        """What the database counted (unread up to `top`); the seqs seen live above stay."""
        self.read = max(self.read, read)
        self.base, self.base_top, self.base_mentions = base, top, mentions
        floor = max(top, self.read)
        self.above = self.above[bisect_right(self.above, floor) :]
        self.mentions_above = self.mentions_above[bisect_right(self.mentions_above, floor) :]

    def read_up_to(self, seq: int) -> bool:
        """The user read the room up to `seq` (here or elsewhere): True when the count changed."""
        before = self.count
        self.read = max(self.read, seq)
        mentions_before = self.mentions
        if seq >= self.base_top:
            self.base = self.base_mentions = 0
        self.above = self.above[bisect_right(self.above, seq) :]
        self.mentions_above = self.mentions_above[bisect_right(self.mentions_above, seq) :]
        return self.count != before or self.mentions != mentions_before


def _holds(seqs: list[int], seq: int) -> bool:
    at = bisect_left(seqs, seq)
    return at < len(seqs) and seqs[at] == seq


def _insert(seqs: list[int], seq: int) -> None:
    """Into the sorted list: seqs nearly always come in order, so nearly always an append."""
    if not seqs or seq > seqs[-1]:
        seqs.append(seq)
    else:
        seqs.insert(bisect_left(seqs, seq), seq)


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
