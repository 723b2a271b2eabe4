"""The API of unread counts, read markers and mentions, and their events on the stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Person
from tests.web.test_api_stream import events, ready
from tests.web.test_api_support import ApiUser, ApiUsers, assert_error
from tests.web.test_page_socket import page
from tests.web.test_ws import join


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


async def room_as_seen_by(user: ApiUser, slug: str) -> dict[str, Any]:
    listed = await user.http.get("/rooms", params={"joined": "true"})
    assert listed.status_code == 200, listed.text
    (room,) = [r for r in listed.json()["rooms"] if r["slug"] == slug]
    return room


async def three_in_a_room(api: ApiUsers) -> tuple[ApiUser, ApiUser, ApiUser, str]:
    alice, bob, carol = await api.new(), await api.new(), await api.new()
    slug = (await bob.new_room())["slug"]
    for user in (alice, carol):
        assert (await user.http.post(f"/rooms/{slug}/join")).status_code == 200
    return alice, bob, carol, slug


async def test_unread_and_mentions_per_room_count_for_the_mentioned_only(api: ApiUsers) -> None:
    alice, bob, carol, slug = await three_in_a_room(api)
    await bob.post(slug, "good morning")
    await bob.post(slug, f"@{alice.username.upper()} can you look at this?")
    await bob.post(slug, "@room standup in five")
    await bob.post(slug, f"mail {alice.username}@example.com is no mention")
    mine = await room_as_seen_by(alice, slug)
    assert (mine["unread"], mine["mentions"]) == (4, 2)
    theirs = await room_as_seen_by(carol, slug)
    assert (theirs["unread"], theirs["mentions"]) == (4, 1)  # @room only
    own = await room_as_seen_by(bob, slug)
    assert (own["unread"], own["mentions"]) == (0, 0)  # one's own messages are read
    one = await alice.http.get(f"/rooms/{slug}")
    assert (one.json()["unread"], one.json()["mentions"]) == (4, 2)
    outsider = await api.new()
    listed = await outsider.http.get("/rooms")
    (seen,) = [r for r in listed.json()["rooms"] if r["slug"] == slug]
    assert (seen["unread"], seen["mentions"], seen["last_read_seq"]) == (0, 0, None)


async def test_reading_moves_the_marker_forward_only_and_is_refused_cleanly(
    api: ApiUsers,
) -> None:
    alice, bob, _, slug = await three_in_a_room(api)
    for i in range(5):
        await bob.post(slug, f"m{i} @{alice.username}")
    read = await alice.http.post(f"/rooms/{slug}/read", json={"seq": 3})
    assert read.status_code == 200, read.text
    assert (read.json()["last_read_seq"], read.json()["unread"], read.json()["mentions"]) == (
        3,
        2,
        2,
    )
    back = await alice.http.post(f"/rooms/{slug}/read", json={"seq": 1})
    assert back.json()["last_read_seq"] == 3  # never back
    beyond = await alice.http.post(f"/rooms/{slug}/read", json={"seq": 10**9})
    assert (beyond.json()["last_read_seq"], beyond.json()["unread"]) == (5, 0)  # never past
    outsider = await api.new()
    assert_error(await outsider.http.post(f"/rooms/{slug}/read", json={"seq": 1}), 403)
    assert_error(await alice.http.post("/rooms/no-such-room/read", json={"seq": 1}), 404)
    for bad in ({"seq": -1}, {"seq": "3"}, {}, {"seq": 1, "extra": 1}):
        assert_error(await alice.http.post(f"/rooms/{slug}/read", json=bad), 422)


async def test_mentions_lists_what_mentions_me_newest_first(api: ApiUsers) -> None:
    alice, bob, carol, slug = await three_in_a_room(api)
    other = (await carol.new_room())["slug"]
    assert (await alice.http.post(f"/rooms/{other}/join")).status_code == 200
    await bob.post(slug, f"first @{alice.username}")
    await bob.post(slug, "not about alice")
    await carol.post(other, "@room second")
    await alice.post(slug, f"talking to myself @{alice.username}")
    got = await alice.http.get("/mentions")
    assert got.status_code == 200, got.text
    listed = [(m["room_slug"], m["message"]["body"]) for m in got.json()["mentions"]]
    assert listed == [(other, "@room second"), (slug, f"first @{alice.username}")]
    assert got.json()["mentions"][0]["message"]["mentions"] == ["room"]
    assert_error(await alice.http.get("/mentions", params={"limit": 0}), 422)
    one = await alice.http.get("/mentions", params={"limit": 1})
    assert len(one.json()["mentions"]) == 1


async def test_the_stream_carries_mentions_reads_and_typing(
    api: ApiUsers, person_factory: Any
) -> None:
    alice, bob, _, slug = await three_in_a_room(api)
    typist: Person = await person_factory()
    await join(typist, slug)
    room_id = (await room_as_seen_by(alice, slug))["id"]
    async with alice.stream() as ws, page(typist, room_id) as typing_page:
        await ready(ws)
        await bob.post(slug, f"hey @{alice.username}")
        await alice.http.post(f"/rooms/{slug}/read", json={"seq": 1})
        await typing_page.send(typing=room_id)
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while not any(e["type"] == "typing" for e in got):
                got += [e for e in events(await ws.recv()) if e["type"] != "presence"]
    kinds = [(e["type"], e.get("seq")) for e in got]
    assert kinds == [("message.posted", 1), ("mention", 1), ("room.read", 1), ("typing", None)]
    assert got[1]["message"]["body"] == f"hey @{alice.username}"
    assert got[3]["room"] == room_id and got[3]["name"]
    assert json.dumps(got[3]).count("typing") == 1  # no body, nothing stored: a name only
