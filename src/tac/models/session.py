from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from tac.models.user import utcnow


class Session(Document):
    """One sign-in of a browser. The cookie carries a secret; only its SHA-256 is the id.

    Deleting the document ends the session: every request and socket handshake reads it.
    """

    id: str  # type: ignore[assignment]  # hex SHA-256 of the cookie's secret, not an ObjectId
    user: PydanticObjectId
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    """Moves forward with use (last_seen_at + the session lifetime), as the cookie does."""
    user_agent: str = ""
    address: str = ""

    class Settings:
        name = "sessions"
        indexes = [
            IndexModel([("user", ASCENDING)]),
            # MongoDB removes a session soon after it expires; a read checks expires_at too.
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ]
