from datetime import UTC, datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel


def utcnow() -> datetime:
    """Now, to the millisecond, as MongoDB stores it: a document's times read back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class User(Document):
    username: str
    username_key: str
    """The username folded to lower case: unique, so `Ada` and `ada` are one account."""
    display_name: str
    password_hash: str
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "users"
        indexes = [IndexModel([("username_key", ASCENDING)], unique=True)]
