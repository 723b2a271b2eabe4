"""Database round trips of one post: `python -m ops.bench.roundtrips [--db-url URL]`.

Counts the commands PyMongo sends (a CommandListener) while `post_message` stores one
message, for a socket that knows its user is a member (its second post on) and for one
that does not (the first post, or a plain POST; the room's counter is also unknown then
and starts from the stored top). Redis (rate limit, counter) and the bus are stand-ins
or this process's own here: only MongoDB is counted. Uses TAC_MONGO_URL or an embedded server of its
own in a temporary folder, and a database of its own, dropped at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pymongo import monitoring

from tac import db
from tac.chat.messages import post_message
from tac.chat.writer import MessageWriter
from tac.embedded import EmbeddedMongo
from tac.models import Membership, Room, User
from tac.settings import Settings
from tac.stores.seq import LocalSeqCounter


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(f"{event.command_name} {event.command.get(event.command_name, '')}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class NoWait:
    async def retry_after(self, key: str) -> float:
        return 0.0


class NoBus:
    async def publish(self, event: Any) -> None:
        pass


async def count(url: str) -> None:
    listener = Commands()
    monitoring.register(listener)
    name = f"tac_roundtrips_{secrets.token_hex(4)}"
    client = await db.connect(url, name)
    try:
        user = User(username="rt", username_key="rt", display_name="rt", password_hash="x")
        await user.insert()
        room = Room(slug="rt", title="rt")
        await room.insert()
        assert user.id is not None and room.id is not None
        await Membership(user=user.id, room=room.id).insert()
        bus = NoBus()
        chat: Any = SimpleNamespace(
            settings=Settings(),
            bus=bus,
            rate_limiter=NoWait(),
            seqs=LocalSeqCounter(),
            writer=MessageWriter(bus, 500),  # type: ignore[arg-type]
        )
        for known, label in ((False, "first post"), (True, "a socket's next posts")):
            listener.names.clear()
            await post_message(chat, user, room, "hello", secrets.token_hex(4), known_member=known)
            print(f"{label} (known_member={known}): {len(listener.names)} round trips:")
            print(f"    {listener.names}")
    finally:
        await client.drop_database(name)
        await db.close(client, 5)


def main() -> int:
    settings = Settings()
    if settings.mongo_url:
        asyncio.run(count(settings.mongo_url))
        return 0
    with tempfile.TemporaryDirectory() as home:
        server = EmbeddedMongo(Path(home) / "data", log_file=Path(home) / "log")
        try:
            asyncio.run(count(server.start()))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
