"""What the hub's tests hand it instead of a database: messages kept in memory."""

from __future__ import annotations

import asyncio

from bson import ObjectId

from tac.hub.connection import Connection
from tac.models import Message


class FarEnd:
    """What a connection sends, frame by frame: its writer runs with this as the socket."""

    def __init__(self, conn: Connection) -> None:
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.writer = asyncio.create_task(conn.write(self.send))

    async def send(self, frame: str) -> None:
        self.received.put_nowait(frame)

    async def next(self, seconds: float = 2.0) -> str:
        return await asyncio.wait_for(self.received.get(), seconds)


class Room:
    """A room's stored messages, and the reads the hub made of them."""

    def __init__(self, count: int) -> None:
        self.id = ObjectId()
        author = ObjectId()
        self.messages = [
            Message(room=self.id, seq=i, author=author, author_name="A", body=f"message {i}")
            for i in range(1, count + 1)
        ]
        self.reads: list[tuple[int, int | None]] = []

    @property
    def key(self) -> str:
        return str(self.id)

    async def top(self, room: str) -> int:
        return 0

    async def read(self, room: str, low: int, high: int | None) -> list[Message]:
        self.reads.append((low, high))
        high = len(self.messages) if high is None else high
        return [m for m in self.messages if low <= m.seq <= high]


async def no_presence(room: str) -> None:
    return None
