from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from tac.models.user import utcnow


class Room(Document):
    slug: str
    title: str
    topic: str = ""
    created_by: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_seq: int = 0
    """The seq of the newest message; raised atomically with $inc before each insert."""
    last_seq_at: datetime | None = None
    """When last_seq was taken: a seq missing long after it was taken belongs to a post
    that failed, and no catch-up waits for it."""

    class Settings:
        name = "rooms"
        indexes = [IndexModel([("slug", ASCENDING)], unique=True)]
