"""chat/rooms.py: making rooms, finding them, joining, leaving, and who is in them."""

from __future__ import annotations

import pytest

from tac.chat import Chat, rooms
from tac.chat.errors import Conflict, Invalid, NotAllowed, NotFound
from tac.models import Room
from tests.chat.conftest import changed, new_user
from tests.conftest import unique


def test_slugify_keeps_letters_and_digits_of_any_script() -> None:
    assert rooms.slugify("  Café & Crème — 2024!  ") == "cafe-creme-2024"
    assert rooms.slugify("日本語チーム") == "日本語チーム"
    assert rooms.slugify("Team 日本") == "team-日本"
    assert rooms.slugify("हिन्दी टीम") == "हिन्दी-टीम"  # the vowel signs stay
    assert rooms.slugify("Ελληνικά") == "ελληνικά"
    assert rooms.slugify("Straße") == "strasse"
    assert rooms.slugify("🎉 !!!") == ""
    assert rooms.slugify("a" * 70) == "a" * 60
    assert rooms.slugify("b" * 59 + " c") == "b" * 59  # no dash left at the cut


async def test_general_exists_once(chat: Chat) -> None:
    first = await rooms.ensure_general()
    again = await rooms.ensure_general()
    assert first.id == again.id and first.slug == rooms.GENERAL
    assert await Room.find(Room.slug == rooms.GENERAL).count() == 1


async def test_creating_a_room_makes_its_creator_a_member(chat: Chat) -> None:
    creator = await new_user(chat)
    title = unique("Book club")
    room = await rooms.create_room(chat, creator, f"  {title}  ", "  Reading,   together ")
    assert room.title == title and room.topic == "Reading, together"
    assert room.slug == rooms.slugify(title) and room.created_by == creator.id
    assert await rooms.membership_of(creator, room) is not None


async def test_room_slug_is_unique(chat: Chat) -> None:
    creator = await new_user(chat)
    title = unique("Plans")
    await rooms.create_room(chat, creator, title)
    with pytest.raises(Conflict) as refused:
        await rooms.create_room(chat, creator, title.upper())  # the same slug
    assert refused.value.field == "title"


@pytest.mark.parametrize(
    ("title", "topic", "field"),
    [
        ("   ", "", "title"),
        ("t" * 81, "", "title"),
        ("!!! ???", "", "title"),  # no letter or digit for a slug
        ("Fine title", "t" * 301, "topic"),
    ],
)
async def test_create_room_refuses_bad_fields_naming_the_field(
    chat: Chat, title: str, topic: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await rooms.create_room(chat, await new_user(chat), title, topic)
    assert refused.value.field == field


async def test_a_title_in_any_script_is_kept_as_typed(chat: Chat) -> None:
    title = f"日本語チーム {unique('x')}"
    room = await rooms.create_room(chat, await new_user(chat), title)
    assert room.title == title and room.slug == rooms.slugify(title)
    assert room.slug.startswith("日本語チーム-")
    assert (await rooms.room_by_slug(room.slug)).id == room.id


async def test_title_length_counts_characters_as_people_see_them(chat: Chat) -> None:
    limit = changed(chat, room_title_max_chars=20)
    user = await new_user(chat)
    for chars in ["👍🏽" * 10, "🇯🇵" * 10, "e\u0301" * 10]:  # 10 characters, 20 code points
        title = unique("r") + chars  # 10 + 10
        assert (await rooms.create_room(limit, user, title)).title == title
    for chars in ["👍🏽" * 11, "a" + "\u0301" * 100]:  # 11; or a letter in a flood of marks
        with pytest.raises(Invalid):
            await rooms.create_room(limit, user, unique("r") + chars)


async def test_limits_come_from_the_settings(chat: Chat) -> None:
    short = changed(chat, room_title_max_chars=5)
    with pytest.raises(Invalid):
        await rooms.create_room(short, await new_user(chat), "six ch")


async def test_finding_rooms_by_slug_and_by_id(chat: Chat) -> None:
    room = await rooms.create_room(chat, await new_user(chat), unique("Found"))
    assert room.id is not None
    assert (await rooms.room_by_slug(room.slug)).id == room.id
    assert (await rooms.room_by_id(room.id)).slug == room.slug
    assert (await rooms.room_by_id(str(room.id))).slug == room.slug
    with pytest.raises(NotFound):
        await rooms.room_by_slug(unique("missing"))
    for missing in ["not an id", "0" * 24]:
        with pytest.raises(NotFound):
            await rooms.room_by_id(missing)


async def test_the_directory_lists_every_room_by_slug(chat: Chat) -> None:
    creator = await new_user(chat)
    made = [await rooms.create_room(chat, creator, unique(t)) for t in ("zebra", "aardvark")]
    listed = [room.slug for room in await rooms.list_rooms()]
    assert listed == sorted(listed)
    assert {room.slug for room in made} <= set(listed) and rooms.GENERAL in listed


async def test_joining_twice_is_one_membership_starting_at_the_rooms_end(chat: Chat) -> None:
    room = await rooms.create_room(chat, await new_user(chat), unique("Late"))
    room.last_seq = 42
    await room.save()
    joiner = await new_user(chat)
    first = await rooms.join_room(joiner, room)
    again = await rooms.join_room(joiner, room)
    assert first.id == again.id and first.last_read_seq == 42
    assert await rooms.require_member(joiner, room) is not None


async def test_leaving_a_room_ends_membership(chat: Chat) -> None:
    room = await rooms.create_room(chat, await new_user(chat), unique("Brief"))
    visitor = await new_user(chat)
    await rooms.join_room(visitor, room)
    await rooms.leave_room(chat, visitor, room)
    assert await rooms.membership_of(visitor, room) is None
    assert room.id not in {r.id for r in await rooms.rooms_of(visitor)}
    with pytest.raises(NotAllowed):
        await rooms.leave_room(chat, visitor, room)  # not in it any more


async def test_only_members_pass_require_member(chat: Chat) -> None:
    room = await rooms.create_room(chat, await new_user(chat), unique("Closed"))
    with pytest.raises(NotAllowed) as refused:
        await rooms.require_member(await new_user(chat), room)
    assert room.slug in refused.value.message


async def test_rooms_of_lists_only_the_users_rooms_by_slug(chat: Chat) -> None:
    user, other = await new_user(chat), await new_user(chat)
    mine = [await rooms.create_room(chat, user, unique(t)) for t in ("zulu", "alpha")]
    await rooms.create_room(chat, other, unique("theirs"))
    assert [r.slug for r in await rooms.rooms_of(user)] == sorted(r.slug for r in mine)


async def test_members_are_listed_by_username_to_members_only(chat: Chat) -> None:
    zed, amy = await new_user(chat, "zed"), await new_user(chat, "amy")
    room = await rooms.create_room(chat, zed, unique("Pair"))
    await rooms.join_room(amy, room)
    assert [u.username for u in await rooms.members(zed, room)] == [amy.username, zed.username]
    with pytest.raises(NotAllowed):
        await rooms.members(await new_user(chat), room)


@pytest.mark.parametrize(
    ("title", "topic", "field"),
    [
        ("\ud800 room", "", "title"),
        ("Right\u202eto left", "", "title"),
        ("Two\nlines", "", "title"),
        ("Fine title", "nul\x00", "topic"),
        ("Fine title", "\udfff", "topic"),
    ],
)
async def test_a_title_or_topic_with_refused_characters_makes_no_room(
    chat: Chat, title: str, topic: str, field: str
) -> None:
    creator = await new_user(chat)
    before = await Room.find_all().count()
    with pytest.raises(Invalid) as refused:
        await rooms.create_room(chat, creator, title, topic)
    assert refused.value.field == field
    assert await Room.find_all().count() == before
