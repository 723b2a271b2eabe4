"""What travels on the bus: small facts, never rendered HTML."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

POSTED = "message.posted"
EDITED = "message.edited"
DELETED = "message.deleted"
PRESENCE = "presence"


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    room: str
    """The room's id as hex; also the bus channel's name."""
    seq: int = 0
    message_id: str = ""
    user: str = ""

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Event:
        return cls(**json.loads(data))
