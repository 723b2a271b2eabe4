"""History pages and catch-up, read from the real MongoDB-wire server."""

from __future__ import annotations

import re
from typing import Any

from tac.chat import messages
from tac.chat.rooms import slugify
from tac.models import Message, Room, User
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
        await Message.insert_many(
            [
                Message(room=room.id, seq=i, author=author.id, author_name="A", body=f"message {i}")
                for i in range(1, count + 1)
            ]
        )
    room.last_seq = count
    await room.save()
    return room


async def test_history_pages_are_exact_ordered_and_reach_seq_1(person_factory: Any) -> None:
    reader: Person = await person_factory()
    room = await room_with_messages(120)
    first = await reader.http.get(f"/rooms/{room.slug}")
    page_seqs = [int(s) for s in ARTICLE_SEQ.findall(first.text)]
    assert page_seqs == list(range(71, 121))
    assert "before=71" in first.text and 'hx-trigger="revealed"' in first.text

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
    assert [m.seq for m in missed] == [7, 8, 9, 10]
    assert await messages.missed_since(chat, room, 10) == []


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
    stored = await Message.find(Message.room == room.id).to_list()
    assert sorted(m.body for m in stored) == ["one", "two"]
