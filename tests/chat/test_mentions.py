"""Mentions, read markers and muting as use cases, on the real database."""

from __future__ import annotations

import pytest

from tac.chat import Chat
from tac.chat.errors import Invalid, NotAllowed
from tac.chat.mentions import check_room_mention, mentionable, mentions_of
from tac.chat.messages import post_message
from tac.chat.reads import mark_read, set_muted, unread_in
from tac.chat.rooms import create_room, join_room
from tac.chat.typing import user_typing
from tac.models import Message
from tests.chat.conftest import changed, new_user
from tests.conftest import unique


def test_mentions_are_found_in_the_body_once_each_folded() -> None:
    def found(body: str) -> tuple[str, ...] | None:
        return Message(room=None, seq=1, author=None, author_name="A", body=body).mentions  # type: ignore[arg-type]

    assert found("hi @Ada, and @ada again; @bob.") == ("ada", "bob")
    assert found("@room: standup") == ("room",)
    assert found("mail ada@example.com or see a/@b") == ()
    assert found("no one") == ()


async def test_room_mention_is_refused_only_above_the_size_setting(chat: Chat) -> None:
    owner = await new_user(chat)
    room = await create_room(chat, owner, unique("big"))
    for _ in range(2):
        await join_room(await new_user(chat), room)
    await check_room_mention(changed(chat, room_mention_members_max=3), room, "@room hi")
    small = changed(chat, room_mention_members_max=2)
    with pytest.raises(Invalid, match="only in rooms of up to 2 members"):
        await check_room_mention(small, room, "@room hi")
    await check_room_mention(small, room, f"@{owner.username} hi")  # names are fine


async def test_unread_counts_mentions_marker_and_mute(chat: Chat) -> None:
    alice, bob = await new_user(chat, "alice"), await new_user(chat, "bob")
    room = await create_room(chat, bob, unique("r"))
    await join_room(alice, room)
    await post_message(chat, bob, room, "hello")
    await post_message(chat, bob, room, f"@{alice.username} look")
    await post_message(chat, alice, room, "my own")
    await post_message(chat, bob, room, "@room all")
    fresh = await create_room(chat, bob, unique("r2"))  # alice is not in it
    counted = await unread_in(chat, alice, [room, fresh])
    assert list(counted) == [str(room.id)]
    mine = counted[str(room.id)]
    assert (mine.count, mine.mentions, mine.read_seq, mine.top) == (3, 2, 0, 4)
    assert await mark_read(chat, alice, room, 2) == 2
    mine = (await unread_in(chat, alice, [room]))[str(room.id)]
    assert (mine.count, mine.mentions) == (1, 1)
    assert await mark_read(chat, alice, room, 1) == 2  # never back
    with pytest.raises(Invalid):
        await mark_read(chat, alice, room, "2")
    with pytest.raises(NotAllowed):
        await mark_read(chat, alice, fresh, 0)
    await set_muted(alice, room, True)
    assert (await unread_in(chat, alice, [room]))[str(room.id)].muted
    with pytest.raises(NotAllowed):
        await set_muted(alice, fresh, True)
    found = await mentions_of(alice, 10)
    assert [(m.body, r.slug) for m, r in found] == [
        ("@room all", room.slug),
        (f"@{alice.username} look", room.slug),
    ]


async def test_mentionable_offers_members_by_prefix(chat: Chat) -> None:
    owner = await new_user(chat, "owner")
    room = await create_room(chat, owner, unique("m"))
    tag = unique("zed")  # a prefix no other test's users have
    members = [await new_user(chat, f"{tag}a"), await new_user(chat, f"{tag}b")]
    for member in members:
        await join_room(member, room)
    await new_user(chat, f"{tag}c")  # not a member
    found = await mentionable(owner, room, tag.upper(), 8)
    assert [u.username for u in found] == sorted(m.username for m in members)
    assert await mentionable(owner, room, "no such person", 8) == []
    outsider = await new_user(chat)
    with pytest.raises(NotAllowed):
        await mentionable(outsider, room, tag, 8)


async def test_typing_is_announced_at_most_once_per_throttle(chat: Chat) -> None:
    alice = await new_user(chat)
    room = await create_room(chat, alice, unique("t"))
    assert await user_typing(chat, alice, room) is True
    assert await user_typing(chat, alice, room) is False
    assert await user_typing(changed(chat, typing_throttle_seconds=0.0), alice, room) is True
