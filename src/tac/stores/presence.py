"""Presence marks: "user/instance" in a room, each with the time it expires."""

from __future__ import annotations

from typing import Any, Protocol


class PresenceStore(Protocol):
    async def mark(self, room: str, member: str, until: float) -> None: ...

    async def unmark(self, room: str, member: str) -> None: ...

    async def members(self, room: str, now: float) -> set[str]:
        """Unexpired marks ("user/instance")."""
        ...

    async def sweep(self, room: str, now: float) -> int:
        """Remove expired marks; return how many."""
        ...


class LocalPresenceStore:
    """Marks in this process: right for one instance."""

    def __init__(self) -> None:
        self._marks: dict[str, dict[str, float]] = {}

    async def mark(self, room: str, member: str, until: float) -> None:
        self._marks.setdefault(room, {})[member] = until

    async def unmark(self, room: str, member: str) -> None:
        self._marks.get(room, {}).pop(member, None)

    async def members(self, room: str, now: float) -> set[str]:
        return {m for m, until in self._marks.get(room, {}).items() if until > now}

    async def sweep(self, room: str, now: float) -> int:
        marks = self._marks.get(room, {})
        expired = [m for m, until in marks.items() if until <= now]
        for m in expired:
            del marks[m]
        return len(expired)


class RedisPresenceStore:
    """A sorted set per room: member "user/instance", score the mark's expiry."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, room: str) -> str:
        return f"{self.prefix}:presence:{{{room}}}"

    async def mark(self, room: str, member: str, until: float) -> None:
        key = self.key(room)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {member: until})
            pipe.expireat(key, int(until) + 60)
            await pipe.execute()

    async def unmark(self, room: str, member: str) -> None:
        await self.client.zrem(self.key(room), member)

    async def members(self, room: str, now: float) -> set[str]:
        found = await self.client.zrangebyscore(self.key(room), f"({now}", "+inf")
        return {m.decode() if isinstance(m, bytes) else str(m) for m in found}

    async def sweep(self, room: str, now: float) -> int:
        removed: int = await self.client.zremrangebyscore(self.key(room), "-inf", now)
        return removed
