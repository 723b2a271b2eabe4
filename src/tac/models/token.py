from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from tac.models.user import utcnow


class ApiToken(Document):
    """A bearer token for the API. Only its SHA-256 is stored, never the token itself."""

    owner: PydanticObjectId
    name: str
    hash: str
    """Hex SHA-256 of the whole token: what a presented token is looked up by."""
    prefix: str
    """The token's first characters, so its owner can tell tokens apart."""
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None

    class Settings:
        name = "api_tokens"
        indexes = [
            IndexModel([("hash", ASCENDING)], unique=True),
            IndexModel([("owner", ASCENDING)]),
        ]
