"""The API's JSON of a message and of the stream's events: one function each.

The same shapes go out in `GET .../messages`, in `POST .../messages` and on the event
stream (live, rendered once per instance by the hub, and replayed on catch-up).
"""

from __future__ import annotations

import json
from typing import Any

from tac.events import MENTION, POSTED, PRESENCE, ROOM_READ, TYPING
from tac.models import Message


def message_json(message: Message) -> dict[str, Any]:
    """A message as the API shows it: a deleted message's body is gone."""
    data = message.to_bus()
    if message.deleted:
        data["body"] = ""
    return data


def posted_event(message: Message) -> str:
    """The stream's event for a posted message (one line of a frame)."""
    event = {"type": POSTED, "room": str(message.room), "seq": message.seq}
    return _dumps({**event, "message": message_json(message)})


def presence_event(room: str, online: set[str]) -> str:
    return _dumps({"type": PRESENCE, "room": room, "online": sorted(online)})


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def read_event(room: str, seq: int) -> str:
    """You read `room` up to `seq` (here or on another device)."""
    return _dumps({"type": ROOM_READ, "room": room, "seq": seq})


def typing_event(room: str, user: str, name: str) -> str:
    """`user` is typing in `room`: show it for a few seconds unless another comes."""
    return _dumps({"type": TYPING, "room": room, "user": user, "name": name})


def mention_event(message: Message) -> str:
    """A message that mentions you (by name, or `@room`): besides its message.posted."""
    event = {"type": MENTION, "room": str(message.room), "seq": message.seq}
    return _dumps({**event, "message": message_json(message)})
