"""What travels between instances on the bus: facts, never rendered HTML.

Below both `chat/` (which publishes) and `bus/` (which carries): neither knows the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tac.models.message import Message

POSTED = "message.posted"
PRESENCE = "presence"
LEFT = "membership.ended"
"""A user is no longer a member of `room` (left, removed): their member-only sockets leave it."""
SESSION_ENDED = "session.ended"
"""On CONTROL: `user`'s sockets of `session` (every session when empty) are closed."""

CONTROL = "control"
"""The channel every instance listens to, whatever rooms it has sockets in."""


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    room: str
    """The room's id as hex; also the bus channel's name."""
    seq: int = 0
    user: str = ""
    session: str = ""
    message: Message | None = None
    """A posted message as stored, so that no instance has to read it back. The in-process
    bus hands this very record to the hub; Redis carries it as `Message.to_bus()`."""

    def encode(self) -> bytes:
        data: dict[str, Any] = {"kind": self.kind, "room": self.room}
        if self.seq:
            data["seq"] = self.seq
        if self.user:
            data["user"] = self.user
        if self.session:
            data["session"] = self.session
        if self.message is not None:
            data["message"] = self.message.to_bus()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Event:
        fields = json.loads(data)
        carried = fields.pop("message", None)
        message = Message.from_bus(carried) if carried is not None else None
        return cls(**fields, message=message)


def posted(message: Message) -> Event:
    """The event of a stored message; it carries the message to every instance's hub."""
    return Event(POSTED, str(message.room), message.seq, message=message)


def left(room: str, user: str) -> Event:
    return Event(LEFT, room, user=user)


def session_ended(user: str, session: str = "") -> Event:
    """Every instance closes `user`'s sockets of `session` ("": of every session)."""
    return Event(SESSION_ENDED, CONTROL, user=user, session=session)
