"""The messages that mention me: `@username`, or `@room` in a room I am in."""

from __future__ import annotations

import re
from typing import Any

from tac.chat import Chat
from tac.chat.errors import Invalid
from tac.chat.reads import mentioning
from tac.chat.rooms import require_member
from tac.models import Membership, Message, Room, User, messages_collection
from tac.models.message import mentions_in

USERNAME_PREFIX = re.compile(r"[a-z0-9_.-]{0,32}")


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


async def check_room_mention(chat: Chat, room: Room, body: object) -> None:
    """`@room` notifies every member: anyone may use it in a room of up to
    room_mention_members_max members (larger rooms: only their owners, once rooms have
    roles). Invalid otherwise, before anything is stored."""
    if not isinstance(body, str) or "room" not in mentions_in(body):
        return
    limit = chat.settings.room_mention_members_max
    # At most limit + 1 read by the (room) index: count_documents scans on the embedded server.
    found = (
        await Membership.get_pymongo_collection()
        .find({"room": room.id}, {"_id": True})
        .limit(limit + 1)
        .to_list()
    )
    if len(found) > limit:
        raise Invalid(
            f"@room notifies everyone, so it works only in rooms of up to {limit} members "
            f"(#{room.slug} has more). Mention people by name instead.",
            field="body",
        )


async def mentionable(user: User, room: Room, prefix: str, limit: int) -> list[User]:
    """Members of `room` whose username starts with `prefix` (any case), by username: what
    the composer offers after `@`. Only members may ask."""
    await require_member(user, room)
    key = prefix.lower()
    if not USERNAME_PREFIX.fullmatch(key):
        return []
    # Users by the username index first (a prefix range), then which of them are members:
    # never all the members of a large room per keystroke.
    found = await (
        User.find({"username_key": {"$gte": key, "$lt": key + "\uffff"}})
        .sort(User.username_key)
        .limit(limit * 4)
        .to_list()
    )
    ids = [u.id for u in found]
    members = {
        doc["user"]
        for doc in await Membership.get_pymongo_collection()
        .find({"room": room.id, "user": {"$in": ids}}, {"user": True})
        .to_list()
    }
    return [u for u in found if u.id in members][:limit]
