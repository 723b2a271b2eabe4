"""What travels on the bus: facts, never rendered HTML."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

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
    message: dict[str, Any] | None = None
    """A posted message as stored (JSON), so that no instance has to read it back."""

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Event:
        return cls(**json.loads(data))
