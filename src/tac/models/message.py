from datetime import datetime

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
