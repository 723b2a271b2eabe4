"""History pages and catch-up, read from the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from tac.chat import Chat, messages
from tac.chat.rooms import slugify
from tac.models import Message, Room, User, messages_collection
from tac.models.user import utcnow
from tests.conftest import Person, unique

ARTICLE_SEQ = re.compile(r'data-seq="(\d+)"')


async def room_with_messages(count: int) -> Room:
    room = await Room(slug=slugify(unique("hist")), title="History").insert()
    name = unique("author")
    author = await User(
        username=name, username_key=name, display_name="A", password_hash="-"
    ).insert()
    assert author.id is not None and room.id is not None
    if count:
        await messages_collection().insert_many(
            [
                Message(
                    room=room.id, seq=i, author=author.id, author_name="A", body=f"message {i}"
                ).to_bson()
                for i in range(1, count + 1)
            ]
        )
    room.last_seq = count
    await room.save()
    return room


async def stored_in(room: Room) -> list[Message]:
    """Every message stored in `room`, as the database holds them."""
    found = await messages_collection().find({"room": room.id}).to_list()
    return [Message.from_bson(doc) for doc in found]


async def test_history_pages_are_exact_ordered_and_reach_seq_1(person_factory: Any) -> None:
    reader: Person = await person_factory()
    room = await room_with_messages(120)
    first = await reader.http.get(f"/rooms/{room.slug}")
    page_seqs = [int(s) for s in ARTICLE_SEQ.findall(first.text)]
    assert page_seqs == list(range(71, 121))
    assert "before=71" in first.text and 'hx-trigger="intersect once"' in first.text

    pages = []
    before = 71
    while True:
        fragment = await reader.http.get(f"/rooms/{room.slug}/history", params={"before": before})
        assert fragment.status_code == 200
        got = [int(s) for s in ARTICLE_SEQ.findall(fragment.text)]
        pages.append(got)
        if "This is the start of" in fragment.text:
            break
        before = got[0]
    assert pages == [list(range(21, 71)), list(range(1, 21))]
    assert "hx-get" not in fragment.text


async def test_history_ends_at_the_real_start_across_a_range_of_failed_posts(
    person_factory: Any,
) -> None:
    """Seqs 1-2 were taken by posts that failed: the page before seq 3 is empty, and it is
    the start, not a trigger asking for the same empty page again and again."""
    reader: Person = await person_factory()
    room = await room_with_messages(5)
    await messages_collection().delete_many({"room": room.id, "seq": {"$lt": 3}})
    fragment = await reader.http.get(f"/rooms/{room.slug}/history", params={"before": 3})
    assert fragment.status_code == 200
    assert "This is the start of" in fragment.text
    assert "hx-get" not in fragment.text


async def test_history_before_reads_a_seq_range() -> None:
    room = await room_with_messages(75)
    page = await messages.history_before(room, 51, 50)
    assert [m.seq for m in page] == list(range(1, 51))
    assert [m.seq for m in await messages.latest(room, 50)] == list(range(26, 76))
    assert await messages.history_before(room, 1, 50) == []


async def test_history_with_a_bad_cursor_is_a_clear_error(person_factory: Any) -> None:
    reader: Person = await person_factory()
    response = await reader.http.get("/rooms/general/history", params={"before": "abc"})
    assert response.status_code == 422
    assert "`before` must be a whole number." in response.text


async def test_missed_since_returns_what_follows(app: Any) -> None:
    from tac.web import runtime

    async with app.app_context():
        chat = runtime().chat
    room = await room_with_messages(10)
    missed = await messages.missed_since(chat, room, 6)
    assert [m.seq for m in missed.messages] == [7, 8, 9, 10]
    assert missed.mark == 10
    assert (await messages.missed_since(chat, room, 10)).messages == []


async def test_the_catch_up_mark_stops_below_a_seq_still_on_its_way(app: Any) -> None:
    """Seq 4 was taken but its message is not stored yet: the catch-up sends 5 and 6, but
    the mark stays at 3, so the live event of 4 is still delivered when it comes."""
    from tac.web import runtime

    async with app.app_context():
        chat = runtime().chat
    room = await room_with_messages(6)
    await messages_collection().delete_one({"room": room.id, "seq": 4})
    await room.set({Room.last_seq_at: utcnow()})  # seq 6 was just taken
    fast = dataclasses.replace(
        chat, settings=chat.settings.model_copy(update={"gap_repair_seconds": 0.05})
    )
    caught = await messages.missed_since(fast, room, 1)
    assert [m.seq for m in caught.messages] == [2, 3, 5, 6]
    assert caught.mark == 3 and caught.sent == {2, 3, 5, 6}


async def test_a_seq_abandoned_long_ago_neither_holds_the_mark_nor_makes_it_wait(
    app: Any,
) -> None:
    """A post that failed after taking its seq leaves a hole for good: catch-ups pass it."""
    from tac.web import runtime

    async with app.app_context():
        chat = runtime().chat
    room = await room_with_messages(6)  # stored "now"
    await messages_collection().delete_one({"room": room.id, "seq": 4})
    settled = dataclasses.replace(
        chat,
        settings=chat.settings.model_copy(
            update={"gap_repair_seconds": 5.0, "seq_abandoned_seconds": 0.0}
        ),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    caught = await messages.missed_since(settled, room, 1)
    assert loop.time() - started < 1  # did not wait the 5 s for seq 4
    assert caught.mark == 6 and [m.seq for m in caught.messages] == [2, 3, 5, 6]


def test_the_mark_is_the_highest_seq_without_a_hole_that_may_still_fill() -> None:
    room, author = ObjectId(), ObjectId()
    now = utcnow()
    old = now - timedelta(minutes=5)

    def at(seq: int, when: datetime) -> Message:
        return Message(room=room, seq=seq, author=author, author_name="A", body="", created_at=when)

    held = messages.held_through
    assert held(0, [at(1, now), at(2, now)], 2, now, 30) == 2
    assert held(0, [at(1, now), at(3, now)], 3, now, 30) == 1  # 2 may still come
    assert held(0, [at(1, old), at(3, old)], 3, old, 30) == 3  # 2 failed long ago
    assert held(0, [at(1, now)], 3, now, 30) == 1  # 2 and 3 taken just now
    assert held(0, [at(1, old)], 3, old, 30) == 3  # 2 and 3 taken long ago
    assert held(5, [], 5, None, 30) == 5


async def test_posting_faster_than_the_limit_is_refused_and_not_stored(app: Any) -> None:
    import dataclasses

    from tac.chat.errors import RateLimited
    from tac.chat.rooms import join_room
    from tac.stores.ratelimit import LocalRateLimiter
    from tac.web import runtime

    async with app.app_context():
        chat = dataclasses.replace(runtime().chat, rate_limiter=LocalRateLimiter(2, 60))
    room = await room_with_messages(0)
    name = unique("fast")
    user = await User(
        username=name, username_key=name, display_name=name, password_hash="-"
    ).insert()
    await join_room(user, room)
    await messages.post_message(chat, user, room, "one")
    await messages.post_message(chat, user, room, "two")
    try:
        await messages.post_message(chat, user, room, "three")
        raise AssertionError("the third post went through")
    except RateLimited as e:
        assert 0 < e.retry_after <= 60
        assert "Slow down" in e.message
    stored = await stored_in(room)
    assert sorted(m.body for m in stored) == ["one", "two"]


async def test_a_body_that_is_not_valid_unicode_is_refused_before_it_is_numbered(
    app: Any,
) -> None:
    from tac.chat.errors import Invalid
    from tac.chat.rooms import join_room
    from tac.web import runtime

    async with app.app_context():
        chat = runtime().chat
    room = await room_with_messages(0)
    name = unique("surrogate")
    user = await User(
        username=name, username_key=name, display_name=name, password_hash="-"
    ).insert()
    await join_room(user, room)
    for body in ("\ud800", "half \udc00 a pair", "nul \x00 inside"):
        try:
            await messages.post_message(chat, user, room, body)
            raise AssertionError(f"{body!r} was posted")
        except Invalid as e:
            assert e.field == "body"
    posted = await messages.post_message(chat, user, room, "line one\r\nline two")
    assert posted.seq == 1 and posted.body == "line one\nline two"
    fresh = await Room.get(room.id)
    assert fresh is not None and fresh.last_seq == 1
    assert [m.body for m in await stored_in(room)] == ["line one\nline two"]


async def member_of(room: Room, prefix: str) -> User:
    from tac.chat.rooms import join_room

    name = unique(prefix)
    user = await User(
        username=name, username_key=name, display_name=name, password_hash="-"
    ).insert()
    await join_room(user, room)
    return user


async def test_posts_waiting_for_a_write_share_the_next_one(chat: Chat) -> None:
    room = await room_with_messages(0)
    user = await member_of(room, "batch")
    writes_before = chat.writer.writes
    posted = await asyncio.gather(
        *(messages.post_message(chat, user, room, f"m{i}") for i in range(30))
    )
    assert sorted(m.seq for m in posted) == list(range(1, 31))
    assert sorted(m.seq for m in await stored_in(room)) == list(range(1, 31))
    assert chat.writer.writes - writes_before < 10  # 30 posts, a few writes
    fresh = await Room.get(room.id)
    assert fresh is not None and fresh.last_seq == 30 and fresh.last_seq_at is not None


async def test_a_counter_that_lost_its_place_costs_a_retry_not_a_message(chat: Chat) -> None:
    from tac.stores.seq import LocalSeqCounter

    chat = dataclasses.replace(chat, seqs=LocalSeqCounter())
    room = await room_with_messages(5)
    user = await member_of(room, "lost")
    await chat.seqs.raise_to(str(room.id), 2)  # as if it had restarted from an old top
    posted = await messages.post_message(chat, user, room, "after the clash")
    assert posted.seq == 6
    bodies = {m.seq: m.body for m in await stored_in(room)}
    assert bodies == {**{i: f"message {i}" for i in range(1, 6)}, 6: "after the clash"}


async def test_the_same_client_id_twice_in_one_write_is_one_message(chat: Chat) -> None:
    room = await room_with_messages(0)
    user = await member_of(room, "twice")
    one, two = await asyncio.gather(
        messages.post_message(chat, user, room, "hello", "cid-1"),
        messages.post_message(chat, user, room, "hello", "cid-1"),
    )
    assert one.seq == two.seq
    assert [m.body for m in await stored_in(room)] == ["hello"]


async def test_a_post_whose_sender_went_away_is_still_stored(chat: Chat) -> None:
    room = await room_with_messages(0)
    user = await member_of(room, "gone")
    writes_before = chat.writer.writes
    post = asyncio.create_task(messages.post_message(chat, user, room, "still here"))
    while chat.writer.writes == writes_before:  # its write is on its way
        await asyncio.sleep(0.001)
    post.cancel()
    await chat.writer.stop()
    assert [m.body for m in await stored_in(room)] == ["still here"]
