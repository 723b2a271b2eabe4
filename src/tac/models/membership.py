from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from tac.models.user import utcnow


class Membership(Document):
    user: PydanticObjectId
    room: PydanticObjectId
    last_read_seq: int = 0
    """The read marker: the seq up to which the member has read the room."""
    muted: bool = False
    """The member muted the room: its badge stays grey, and no notification comes from it."""
    joined_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "memberships"
        indexes = [
            IndexModel([("user", ASCENDING), ("room", ASCENDING)], unique=True),
            IndexModel([("room", ASCENDING)]),
        ]
