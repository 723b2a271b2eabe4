"""Who is typing in each room, as this instance heard it: never stored, expiring by itself."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Typing:
    """What the renderer gets with a TYPING event for one viewer: the others typing."""

    room: str
    names: tuple[str, ...]


class Typists:
    """Per room, who typed lately (user id -> display name, and until when it shows)."""

    def __init__(self, expire_seconds: float) -> None:
        self.expire_seconds = expire_seconds
        self._rooms: dict[str, dict[str, tuple[str, float]]] = {}

    def typed(self, room: str, user: str, name: str) -> None:
        self._rooms.setdefault(room, {})[user] = (name, time.monotonic() + self.expire_seconds)

    def stopped(self, room: str, user: str) -> bool:
        """`user` posted (or left): True when they were shown typing."""
        typists = self._rooms.get(room)
        if not typists or user not in typists:
            return False
        del typists[user]
        if not typists:
            del self._rooms[room]
        return True

    def expire(self, room: str) -> bool:
        """Forget who stopped typing long enough ago: True when someone was forgotten."""
        typists = self._rooms.get(room)
        if not typists:
            return False
        now = time.monotonic()
        gone = [user for user, (_, until) in typists.items() if until <= now]
        for user in gone:
            del typists[user]
        if not typists:
            del self._rooms[room]
        return bool(gone)

    def shown_to(self, room: str, viewer: str) -> tuple[str, ...]:
        """Who `viewer` sees typing in `room` (never themselves), by name."""
        typists = self._rooms.get(room, {})
        return tuple(sorted(name for user, (name, _) in typists.items() if user != viewer))

    def __contains__(self, room: str) -> bool:
        return room in self._rooms
