"""The messages that mention me: `@username`, or `@room` in a room I am in."""

from __future__ import annotations

from typing import Any

from tac.chat.reads import mentioning
from tac.models import Membership, Message, Room, User, messages_collection


async def mentions_of(user: User, limit: int) -> list[tuple[Message, Room]]:
    """Up to `limit` messages by others that mention `user` in rooms they are in, newest
    first, each with its room."""
    memberships = (
        await Membership.get_pymongo_collection().find({"user": user.id}, {"room": True}).to_list()
    )
    room_ids = [doc["room"] for doc in memberships]
    query = {
        "room": {"$in": room_ids},
        "mentions": {"$in": mentioning(user)},
        "author": {"$ne": user.id},
        "deleted": {"$ne": True},
    }
    found = await messages_collection().find(query).sort("_id", -1).limit(limit).to_list()
    messages = [Message.from_bson(doc) for doc in found]
    rooms: dict[Any, Room] = {
        room.id: room
        for room in await Room.find({"_id": {"$in": list({m.room for m in messages})}}).to_list()
    }
    return [(m, rooms[m.room]) for m in messages if m.room in rooms]
