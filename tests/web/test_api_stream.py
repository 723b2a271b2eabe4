"""The JSON event stream: what was missed first, then live events, each exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from tests.waiting import wait_until
from tests.web.test_api_support import API, ApiUser, ApiUsers


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


def events(frame: str | bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in str(frame).split("\n") if line]


async def ready(ws: Any) -> dict[str, Any]:
    first = events(await asyncio.wait_for(ws.recv(), 5))
    assert first[0]["type"] == "stream.ready"
    return first[0]


async def posted_until(ws: Any, room_id: str, last: int, seconds: float = 10) -> list[int]:
    """The seqs of the room's message events until `last` arrives (presence is skipped)."""
    seqs: list[int] = []
    async with asyncio.timeout(seconds):
        while last not in seqs:
            for event in events(await ws.recv()):
                if event["type"] == "message.posted" and event["room"] == room_id:
                    assert event["message"]["seq"] == event["seq"]
                    seqs.append(event["seq"])
    return seqs


async def through_marker(ws: Any, body: str, seconds: float = 10) -> list[dict[str, Any]]:
    """Every event but presence until the message `body` (a marker posted last) arrives.
    Whatever the stream sent before the marker, duplicates included, is in the list."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        while not any(e.get("message", {}).get("body") == body for e in got):
            got += [e for e in events(await ws.recv()) if e["type"] != "presence"]
    return got


def seq_list(got: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(e["room"], e["seq"], e["message"]["body"]) for e in got]


async def test_since_gets_missed_then_live_without_duplicates(api: ApiUsers) -> None:
    alice = await api.new()
    room = await alice.new_room()
    for n in range(1, 4):
        await alice.post(room["slug"], f"before {n}")
    async with alice.stream(f"since={room['slug']}:1") as ws:
        hello = await ready(ws)
        assert {"id": room["id"], "slug": room["slug"], "last_seq": 3} in hello["rooms"]
        assert await posted_until(ws, room["id"], 3) == [2, 3]
        for n in range(4, 6):
            await alice.post(room["slug"], f"live {n}")
        assert await posted_until(ws, room["id"], 5) == [4, 5]
        await alice.post(room["slug"], "marker")
        assert seq_list(await through_marker(ws, "marker")) == [(room["id"], 6, "marker")]


async def test_posts_racing_the_connect_arrive_exactly_once(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    room = await alice.new_room()
    await bob.http.post(f"/rooms/{room['slug']}/join")
    total = 40

    async def chatter() -> None:
        for n in range(1, total + 1):
            await alice.post(room["slug"], f"busy {n}")

    posting = asyncio.create_task(chatter())
    try:

        async def some_posted() -> bool:
            room_now = (await alice.http.get(f"/rooms/{room['slug']}")).json()
            return bool(room_now["last_seq"] >= 5)

        await wait_until(some_posted, 30, interval=0.01, what="5 posts are stored")
        async with bob.stream(f"since={room['slug']}:0") as ws:
            await ready(ws)
            seqs = await posted_until(ws, room["id"], total, seconds=30)
            assert seqs == list(range(1, total + 1))
            await posting
            await alice.post(room["slug"], "marker")
            marker = (room["id"], total + 1, "marker")
            assert seq_list(await through_marker(ws, "marker")) == [marker]
    finally:
        await posting


async def test_without_since_only_live_events_of_my_rooms(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    shared, private = await alice.new_room(), await alice.new_room()
    await bob.http.post(f"/rooms/{shared['slug']}/join")
    await alice.post(shared["slug"], "old news")
    async with bob.stream() as ws:
        slugs = {r["slug"] for r in (await ready(ws))["rooms"]}
        assert slugs == {"general", shared["slug"]}
        await alice.post(private["slug"], "not for bob")
        await alice.post(shared["slug"], "for bob")
        await alice.post(shared["slug"], "marker")
        assert seq_list(await through_marker(ws, "marker")) == [
            (shared["id"], 2, "for bob"),
            (shared["id"], 3, "marker"),
        ]


async def test_many_missed_messages_come_in_batches(api: ApiUsers, settings: Any) -> None:
    alice = await api.new()
    room = await alice.new_room()
    count = settings.api_stream_catchup_batch + 5
    for n in range(count):
        await alice.post(room["slug"], f"m{n}")
    async with alice.stream(f"since={room['slug']}:0") as ws:
        await ready(ws)
        first = events(await ws.recv())
        assert len(first) == settings.api_stream_catchup_batch
        assert [e["seq"] for e in events(await ws.recv())] == list(
            range(settings.api_stream_catchup_batch + 1, count + 1)
        )


async def test_stream_makes_its_user_online(api: ApiUsers) -> None:
    alice = await api.new()
    room = await alice.new_room()

    async def online() -> bool:
        members = (await alice.http.get(f"/rooms/{room['slug']}/members")).json()["members"]
        return bool(members[0]["online"])

    assert not await online()
    async with alice.stream() as ws:
        await ready(ws)
        assert await online()

    async def offline() -> bool:
        return not await online()

    await wait_until(offline, what="alice is offline after her stream closed")


async def test_token_in_the_query_works(api: ApiUsers) -> None:
    alice = await api.new()
    url = alice.base_url.replace("http", "ws", 1) + f"{API}/stream?token={alice.token}"
    async with websockets.connect(url) as ws:
        await ready(ws)


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("", {}, 401),
        ("token=tac_nope", {}, 401),
        ("", {"Authorization": "Basic x"}, 401),
        ("since=general", None, 422),
        ("since=general:x", None, 422),
        ("since=:3", None, 422),
    ],
)
async def test_stream_refuses_before_the_handshake(
    api: ApiUsers, query: str, headers: dict[str, str] | None, status: int
) -> None:
    alice: ApiUser = await api.new()
    url = alice.base_url.replace("http", "ws", 1) + f"{API}/stream?{query}"
    sent = {"Authorization": f"Bearer {alice.token}"} if headers is None else headers
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=sent):
            pass
    assert refused.value.response.status_code == status


async def test_a_since_beyond_the_room_still_gets_live_messages(
    api: ApiUsers, base_url: str
) -> None:
    """A client claiming more than exists must not hide the messages that come next."""
    user = await api.new()
    async with websockets.connect(
        base_url.replace("http", "ws", 1) + "/api/v1/stream?since=general:1000000000",
        additional_headers={"Authorization": f"Bearer {user.token}"},
    ) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "stream.ready"
        posted = await user.http.post("/rooms/general/messages", json={"body": "after a big claim"})
        assert posted.status_code == 201, posted.text
        async with asyncio.timeout(5):
            while True:
                events = [json.loads(line) for line in (await ws.recv()).splitlines()]
                if any(e.get("message", {}).get("body") == "after a big claim" for e in events):
                    break


async def test_leaving_a_room_stops_its_events_on_an_open_stream_at_once(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    room, other = await alice.new_room(), await alice.new_room()
    for slug in (room["slug"], other["slug"]):
        assert (await bob.http.post(f"/rooms/{slug}/join")).status_code in (200, 201, 204)
    async with bob.stream() as ws:
        await ready(ws)
        await alice.post(room["slug"], "while bob is in")
        assert await posted_until(ws, room["id"], 1) == [1]
        left = await bob.http.post(f"/rooms/{room['slug']}/leave")
        assert left.status_code in (200, 204), left.text
        await alice.post(room["slug"], "after bob left")
        await alice.post(other["slug"], "a marker in a room bob is still in")
        seen: list[tuple[str, int]] = []
        async with asyncio.timeout(10):
            while (other["id"], 1) not in seen:
                seen += [
                    (e["room"], e["seq"])
                    for e in events(await ws.recv())
                    if e["type"] == "message.posted"
                ]
        assert seen == [(other["id"], 1)]  # nothing of the room bob left


async def test_token_in_the_subprotocol_works_and_is_echoed(api: ApiUsers) -> None:
    """A browser cannot set Authorization on a WebSocket: it offers `tac.bearer, <token>`."""
    alice = await api.new()
    url = alice.base_url.replace("http", "ws", 1) + f"{API}/stream"
    offered = [websockets.Subprotocol("tac.bearer"), websockets.Subprotocol(alice.token)]
    async with websockets.connect(url, subprotocols=offered) as ws:
        assert ws.subprotocol == "tac.bearer"
        await ready(ws)
    wrong = [websockets.Subprotocol("tac.bearer"), websockets.Subprotocol("tac_nope")]
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, subprotocols=wrong):
            pass
    assert refused.value.response.status_code == 401
