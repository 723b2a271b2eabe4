"""What Tac stores in MongoDB: Beanie documents, and the message record."""

from beanie import Document

from tac.models.membership import Membership
from tac.models.message import Message, MessageCollection, messages_collection
from tac.models.room import Room
from tac.models.session import Session
from tac.models.token import ApiToken
from tac.models.user import User

DOCUMENTS: list[type[Document]] = [User, Room, Membership, MessageCollection, ApiToken, Session]

__all__ = [
    "DOCUMENTS",
    "ApiToken",
    "Membership",
    "Message",
    "MessageCollection",
    "Room",
    "Session",
    "User",
    "messages_collection",
]
