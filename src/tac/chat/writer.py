"""Store posts in batches, then publish them: the database's work grows with load slower
than the load.

A post waits in line while one write is on its way; when that write returns, everything
waiting goes in one `insert_many` (and one `bulk_write` that moves each room's
`last_seq`), then each stored message is published. On a quiet room a write carries one
message and starts at once; when posts pile up they share the database's cost per
command, which on SecantusDB is most of its cost per post (BENCHMARKS.md). The same
design as the hub's frames, on the other side of the database.

The writer publishes, not the caller: a post whose sender goes away (its socket closed
meanwhile) is still stored and delivered, never stored and left unpublished.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from tac.bus import Bus
from tac.events import posted
from tac.models import Message, Room, messages_collection

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000


class MessageWriter:
    def __init__(self, bus: Bus, batch_max: int) -> None:
        self.bus = bus
        self.batch_max = batch_max
        self._waiting: list[tuple[Message, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        self.writes = 0
        """Batches written (for benchmarks: messages stored / writes = mean batch)."""

    async def store(self, message: Message) -> None:
        """Store the message and publish it. Raises DuplicateKeyError when the (room, seq)
        or (room, author, client_id) index refuses it, or the database's error."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((message, done))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_all())
        await asyncio.shield(done)

    async def stop(self) -> None:
        """Wait for the posts already in line."""
        if self._writing is not None:
            await asyncio.shield(self._writing)

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.batch_max]
                del self._waiting[: self.batch_max]
                try:
                    await self._write(batch)
                except Exception as e:  # never leave a post waiting
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(e)
        finally:
            self._writing = None

    async def _write(self, batch: list[tuple[Message, asyncio.Future[None]]]) -> None:
        self.writes += 1
        refused: dict[int, Exception] = {}
        try:
            await messages_collection().insert_many([m.to_bson() for m, _ in batch], ordered=False)
        except BulkWriteError as e:
            refused = {err["index"]: refusal(err) for err in e.details.get("writeErrors", [])}
        except PyMongoError as e:  # nothing known to be stored: each post fails
            refused = dict.fromkeys(range(len(batch)), e)
        stored = [m for i, (m, _) in enumerate(batch) if i not in refused]
        if stored:
            await self._move_tops(stored)
        try:
            for message in sorted(stored, key=lambda m: (str(m.room), m.seq)):
                await self.bus.publish(posted(message))
        finally:
            for i, (_, done) in enumerate(batch):
                if done.done():
                    continue
                if i in refused:
                    done.set_exception(refused[i])
                else:
                    done.set_result(None)

    async def _move_tops(self, stored: list[Message]) -> None:
        """Each room's last_seq and last_seq_at follow its highest stored seq; `$max`, so
        instances writing out of order never move it back."""
        tops: dict[ObjectId, Message] = {}
        for m in stored:
            if m.room not in tops or m.seq > tops[m.room].seq:
                tops[m.room] = m
        moves = [
            UpdateOne(
                {"_id": room},
                {"$max": {"last_seq": m.seq, "last_seq_at": m.created_at}},
            )
            for room, m in tops.items()
        ]
        try:
            await Room.get_pymongo_collection().bulk_write(moves, ordered=False)
        except PyMongoError as e:
            # The messages are stored: readers find them by range, and the next post's
            # write moves the top past them.
            log.warning("writer: moving room tops failed (%s)", e)


def refusal(error: dict[str, Any]) -> Exception:
    if error.get("code") == DUPLICATE_KEY:
        return DuplicateKeyError(error.get("errmsg", "duplicate key"), DUPLICATE_KEY, error)
    return OperationFailure(error.get("errmsg", "write failed"), error.get("code"), error)
