"""Beanie documents: what Tac stores in MongoDB."""

from beanie import Document

from tac.models.membership import Membership
from tac.models.message import Message, StoredMessage
from tac.models.room import Room
from tac.models.token import ApiToken
from tac.models.user import User

DOCUMENTS: list[type[Document]] = [User, Room, Membership, Message, ApiToken]

__all__ = ["DOCUMENTS", "ApiToken", "Membership", "Message", "Room", "StoredMessage", "User"]
