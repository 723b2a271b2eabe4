from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from tac.models.user import utcnow


class Message(Document):
    room: PydanticObjectId
    seq: int
    author: PydanticObjectId
    author_name: str
    """The author's display name when posted, so rendering needs no second query."""
    body: str
    created_at: datetime = Field(default_factory=utcnow)
    edited_at: datetime | None = None
    deleted: bool = False

    class Settings:
        name = "messages"
        indexes = [IndexModel([("room", ASCENDING), ("seq", ASCENDING)], unique=True)]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as read back for display (history, catch-up, the API): the document's
    fields without a Beanie document around them, which costs more to build than the read
    (ops/bench/history.py). Validated when it was written."""

    id: PydanticObjectId
    room: PydanticObjectId
    seq: int
    author: PydanticObjectId
    author_name: str
    body: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False

    @classmethod
    def from_bson(cls, doc: Mapping[str, Any]) -> "StoredMessage":
        return cls(
            id=doc["_id"],
            room=doc["room"],
            seq=doc["seq"],
            author=doc["author"],
            author_name=doc["author_name"],
            body=doc["body"],
            created_at=doc["created_at"],
            edited_at=doc.get("edited_at"),
            deleted=doc.get("deleted", False),
        )

    def as_json(self) -> dict[str, Any]:
        """The same shape as `Message.model_dump(mode="json")`."""
        return {
            "id": str(self.id),
            "room": str(self.room),
            "seq": self.seq,
            "author": str(self.author),
            "author_name": self.author_name,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
            "edited_at": self.edited_at.isoformat() if self.edited_at else None,
            "deleted": self.deleted,
        }
