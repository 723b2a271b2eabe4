"""Rooms and who is in them."""

from __future__ import annotations

import re
import unicodedata

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from tac.chat import Chat
from tac.chat.errors import Conflict, Invalid, NotAllowed, NotFound
from tac.chat.text import one_line, within
from tac.events import joined, left
from tac.models import Membership, Room, User

GENERAL = "general"


def slugify(title: str) -> str:
    """A room's name in its URL, lower case, words joined by dashes: spelled in ASCII when
    every letter and digit of the title can be ("Café & Crème" is cafe-creme), else in the
    title's own script ("日本語チーム" stays, "Straße" is strasse). Empty when the title
    has no letter or digit in any script."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", title) if not _mark(c))
    if all(c.isascii() for c in bare if _word(c)):
        words = re.sub(r"[^a-z0-9]+", " ", bare.lower())
    else:
        text = unicodedata.normalize("NFKC", title).casefold()
        words = "".join(c if _word(c) or _mark(c) else " " for c in text)
    return "-".join(words.split())[:SLUG_MAX_CHARS].strip("-")


SLUG_MAX_CHARS = 60


def _word(char: str) -> bool:
    """A letter or a digit, of any script."""
    return unicodedata.category(char)[0] in "LN"


def _mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "M"


async def ensure_general() -> Room:
    """The room every Tac has from its first start."""
    room = await Room.find_one(Room.slug == GENERAL)
    if room is None:
        try:
            room = await Room(slug=GENERAL, title="General", topic="Say hello.").insert()
        except DuplicateKeyError:  # another instance made it first
            room = await Room.find_one(Room.slug == GENERAL)
    assert room is not None
    return room


async def create_room(chat: Chat, creator: User, title: str, topic: str = "") -> Room:
    s = chat.settings
    title = one_line(title, "title")
    topic = one_line(topic, "topic")
    if not title or not within(title, s.room_title_max_chars):
        raise Invalid(f"Title must be 1 to {s.room_title_max_chars} characters.", field="title")
    if not within(topic, s.room_topic_max_chars):
        raise Invalid(f"Topic may have at most {s.room_topic_max_chars} characters.", field="topic")
    slug = slugify(title)
    if not slug:
        raise Invalid("Title needs at least one letter or digit (of any script).", field="title")
    try:
        room = await Room(slug=slug, title=title, topic=topic, created_by=creator.id).insert()
    except DuplicateKeyError:
        raise Conflict(f"A room named '{slug}' already exists.", field="title") from None
    await join_room(creator, room, chat)
    return room


async def room_by_slug(slug: str) -> Room:
    room = await Room.find_one(Room.slug == slug)
    if room is None:
        raise NotFound(f"No room '{slug}'.")
    return room


async def room_by_id(room_id: str | PydanticObjectId) -> Room:
    try:
        room = await Room.get(PydanticObjectId(room_id))
    except Exception:
        room = None
    if room is None:
        raise NotFound("No such room.")
    return room


async def list_rooms() -> list[Room]:
    return await Room.find_all().sort(Room.slug).to_list()


async def join_room(user: User, room: Room, chat: Chat | None = None) -> Membership:
    """Join (joining twice is fine). With `chat`, the user's open page sockets, on every
    instance, start receiving the room at once."""
    existing = await membership_of(user, room)
    if existing is not None:
        return existing
    try:
        membership = await Membership(
            user=user.id, room=room.id, last_read_seq=room.last_seq
        ).insert()
    except DuplicateKeyError:  # joined from another tab at the same moment
        found = await membership_of(user, room)
        assert found is not None
        return found
    if chat is not None:
        await chat.presence.joined(str(room.id), str(user.id))
        await chat.bus.publish(joined(str(room.id), room.slug, str(user.id)))
    return membership


async def leave_room(chat: Chat, user: User, room: Room) -> None:
    """End the user's membership (NotAllowed when they are not in the room); their
    member-only sockets (API streams) stop receiving the room at once, on every instance."""
    result = await Membership.find(_membership(user, room)).delete()
    if result is None or result.deleted_count == 0:
        raise NotAllowed(f"You are not in #{room.slug}.")
    await chat.bus.publish(left(str(room.id), str(user.id)))


async def membership_of(user: User, room: Room) -> Membership | None:
    return await Membership.find_one(_membership(user, room))


async def require_member(user: User, room: Room) -> Membership:
    membership = await membership_of(user, room)
    if membership is None:
        raise NotAllowed(f"Join #{room.slug} first.")
    return membership


async def rooms_of(user: User) -> list[Room]:
    ids = [m.room for m in await Membership.find(Membership.user == user.id).to_list()]
    return await Room.find({"_id": {"$in": ids}}).sort(Room.slug).to_list()


async def members(user: User, room: Room) -> list[User]:
    """Who is in the room, by username; only its members may ask."""
    await require_member(user, room)
    ids: list[PydanticObjectId] = [
        m.user for m in await Membership.find(Membership.room == room.id).to_list()
    ]
    return await User.find({"_id": {"$in": ids}}).sort(User.username_key).to_list()


def _membership(user: User, room: Room) -> dict[str, object]:
    """One document by the (user, room) index. A plain query, not Beanie's `A == x, B == y`:
    that becomes {"$and": [...]}, which the embedded server answers by scanning every
    membership (1 s against 2 ms with 20,000 memberships; issue 11)."""
    return {"user": user.id, "room": room.id}
