"""Each room's message counter: the next `seq` for a post, without a database round trip.

The counter lives beside the bus: in this process for one instance (the in-process bus),
in Redis for many (one INCR, shared by every instance). MongoDB stays the record: a
counter that does not know a room (first use, a Redis restart, an expired key) starts
from the highest seq stored there (`floor`), and the unique (room, seq) index refuses a
seq given twice, after which the caller raises the counter past the stored top
(`raise_to`) and takes another. So a lost counter costs one retry, never a message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Floor = Callable[[], Awaitable[int]]
"""The highest seq stored for the room (0 for none): where an unknown counter starts."""


class SeqCounter(Protocol):
    async def take(self, room: str, floor: Floor) -> int:
        """The room's next seq: one more than the last one taken."""
        ...

    async def raise_to(self, room: str, at_least: int) -> None:
        """Make the next seq taken greater than `at_least`."""
        ...


class LocalSeqCounter:
    """Counters in this process: exact for one instance."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    async def take(self, room: str, floor: Floor) -> int:
        if room not in self._last:
            stored = await floor()
            # Another post may have seeded (and taken) while we read the floor.
            self._last[room] = max(self._last.get(room, 0), stored)
        seq = self._last[room] = self._last[room] + 1
        return seq

    async def raise_to(self, room: str, at_least: int) -> None:
        self._last[room] = max(self._last.get(room, 0), at_least)


# One key per room, so on Redis Cluster the key's hash tag picks the shard. An unknown
# room answers false (the caller seeds it), never 1: INCR alone would restart at 1.
TAKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return seq
"""
RAISE_TO = """
local now = tonumber(redis.call('GET', KEYS[1]) or '-1')
if now < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 0
"""


class RedisSeqCounter:
    """One counter per room in Redis, shared by every instance.

    A room's key expires after `idle_seconds` without posts (it is found again from the
    floor). While Redis is unreachable the seq is the stored top plus one: two instances
    may then pick the same seq, and the index sends the second one round again.
    """

    def __init__(self, client: Any, prefix: str, idle_seconds: int) -> None:
        self.client = client
        self.prefix = prefix
        self.idle = idle_seconds
        self._take = client.register_script(TAKE)
        self._raise_to = client.register_script(RAISE_TO)

    def key(self, room: str) -> str:
        return f"{self.prefix}:seq:{{{room}}}"

    async def take(self, room: str, floor: Floor) -> int:
        key = self.key(room)
        try:
            seq = await self._take(keys=[key], args=[self.idle])
            if seq is None:
                await self.client.set(key, await floor(), nx=True, ex=self.idle)
                seq = await self._take(keys=[key], args=[self.idle])
            if seq is not None:
                return int(seq)
        except (RedisError, OSError) as e:
            log.warning("seq: Redis unreachable (%s); taking the stored top of %s", e, room)
        return await floor() + 1

    async def raise_to(self, room: str, at_least: int) -> None:
        try:
            await self._raise_to(keys=[self.key(room)], args=[at_least, self.idle])
        except (RedisError, OSError) as e:
            log.warning("seq: Redis unreachable (%s); %s not raised", e, room)
