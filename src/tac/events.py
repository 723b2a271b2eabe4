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
JOINED = "membership.began"
"""On CONTROL: `user` joined the room `about` (its slug in `name`): their open sockets
receive it at once, on every instance."""
ROOM_READ = "room.read"
"""On CONTROL: `user` read the room `about` up to `seq`: every tab and device of theirs
clears its badge."""
TYPING = "typing"
"""`user` (shown as `name`) is typing in `room`. Never stored; it expires by itself."""
MENTION = "mention"
"""Never on the bus: the hub's own event, for a stream, of a posted message mentioning its user."""
UNREAD = "room.unread"
"""Never on the bus: the hub's own event for a sidebar badge (what is unread in a room)."""

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
    about: str = ""
    """The room (its id) a CONTROL event is about."""
    name: str = ""
    """A name to show with the event: a room's slug, a typist's display name."""
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
        if self.about:
            data["about"] = self.about
        if self.name:
            data["name"] = self.name
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


def joined(room: str, slug: str, user: str) -> Event:
    """Every instance subscribes `user`'s open page sockets to the room they joined."""
    return Event(JOINED, CONTROL, user=user, about=room, name=slug)


def room_read(room: str, user: str, seq: int) -> Event:
    return Event(ROOM_READ, CONTROL, seq, user=user, about=room)


def typing(room: str, user: str, name: str) -> Event:
    return Event(TYPING, room, user=user, name=name)
