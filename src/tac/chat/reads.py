"""What a member has not read yet: the read marker (`Membership.last_read_seq`) and counts.

A room's unread count is the number of messages by others above the member's read marker;
reading a room moves the marker (never back) and tells every tab and device of the reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ReturnDocument

from tac.chat import Chat
from tac.chat.errors import Invalid, NotAllowed
from tac.chat.rooms import room_by_id
from tac.events import room_read
from tac.models import Membership, Room, User, messages_collection


@dataclass(frozen=True, slots=True)
class Unread:
    """One room's unread state for one member."""

    read_seq: int
    """The member's read marker: the seq up to which they have read the room."""
    top: int
    """The room's newest seq when this was counted."""
    count: int
    """Messages by others above the marker, at most unread_count_max."""
    mentions: int = 0
    """Of those, the ones that mention the member (by name, or `@room`)."""
    muted: bool = False


async def unread_in(chat: Chat, user: User, rooms: list[Room]) -> dict[str, Unread]:
    """Per room id (of the rooms `user` is a member of among `rooms`), what is unread.

    One read of the memberships; one count per room with something above the marker, over
    at most the newest unread_count_max seqs (a range on the (room, seq) index)."""
    ids = [room.id for room in rooms]
    found = (
        await Membership.get_pymongo_collection()
        .find({"user": user.id, "room": {"$in": ids}}, {"room": 1, "last_read_seq": 1, "muted": 1})
        .to_list()
    )
    marks = {str(doc["room"]): int(doc.get("last_read_seq", 0)) for doc in found}
    muted = {str(doc["room"]) for doc in found if doc.get("muted")}
    cap = chat.settings.unread_count_max
    result: dict[str, Unread] = {}
    for room in rooms:
        key = str(room.id)
        if key not in marks:
            continue
        read = min(marks[key], room.last_seq)
        count = mentions = 0
        if room.last_seq > read:
            # A range on the (room, seq) index, counted here: count_documents with the
            # author condition scanned the collection on the embedded server (3.7 s
            # against 37 ms for 999 messages in a database of 1,000,000).
            low = max(read, room.last_seq - cap)
            in_range = {"room": room.id, "seq": {"$gt": low, "$lte": room.last_seq}}
            wanted = set(mentioning(user))
            async for doc in messages_collection().find(
                in_range, {"author": True, "mentions": True, "_id": False}
            ):
                if doc.get("author") != user.id:
                    count += 1
                    mentions += bool(wanted.intersection(doc.get("mentions") or ()))
        result[key] = Unread(read, room.last_seq, min(count, cap), mentions, key in muted)
    return result


def mentioning(user: User) -> list[str]:
    """What a message's `mentions` holds when it mentions `user`."""
    return [user.username_key, "room"]


async def mark_read(chat: Chat, user: User, room: Room, seq: object) -> int:
    """Move `user`'s read marker of `room` up to `seq` (never back, never past the room's
    newest message) and tell their other tabs and devices. Returns the marker."""
    if type(seq) is not int or seq < 0:
        raise Invalid("`seq` must be a whole number from 0.", field="seq")
    top = (await room_by_id(str(room.id))).last_seq
    seq = min(seq, top)
    updated = await Membership.get_pymongo_collection().find_one_and_update(
        {"user": user.id, "room": room.id},
        {"$max": {"last_read_seq": seq}},
        projection={"last_read_seq": True},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        raise NotAllowed(f"Join #{room.slug} first.")
    marker = int(updated["last_read_seq"])
    await chat.bus.publish(room_read(str(room.id), str(user.id), marker))
    return marker


async def set_muted(user: User, room: Room, muted: bool) -> None:
    """Mute or unmute a room for `user` (NotAllowed when not a member)."""
    result = await Membership.get_pymongo_collection().update_one(
        {"user": user.id, "room": room.id}, {"$set": {"muted": muted}}
    )
    if result.matched_count == 0:
        raise NotAllowed(f"Join #{room.slug} first.")
