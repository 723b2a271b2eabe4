"""Rooms over the API: directory, create, get, join, leave, members."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from tests.web.test_api_support import ApiUsers, assert_error


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


async def test_create_room_joins_its_creator(api: ApiUsers) -> None:
    alice = await api.new()
    made = await alice.http.post("/rooms", json={"title": "Créme  Brûlée", "topic": "dessert"})
    assert made.status_code == 201
    room = made.json()
    assert room["slug"].startswith("creme-brulee") and room["joined"] is True
    assert room["last_seq"] == 0 and room["topic"] == "dessert"
    got = await alice.http.get(f"/rooms/{room['slug']}")
    assert got.status_code == 200 and got.json() == room


async def test_create_room_refusals(api: ApiUsers) -> None:
    alice = await api.new()
    room = await alice.new_room()
    assert_error(await alice.http.post("/rooms", json={"title": room["title"]}), 409, "conflict")
    assert_error(await alice.http.post("/rooms", json={"title": "!!!"}), 422, "invalid")
    assert_error(await alice.http.post("/rooms", json={"title": "x" * 500}), 422, "invalid")
    assert_error(await alice.http.post("/rooms", json={"topic": "no title"}), 422, "invalid")
    assert_error(await alice.http.post("/rooms", json={"title": ["a"]}), 422, "invalid")
    assert_error(await api.anonymous.post("/rooms", json={"title": "anon"}), 401)
    # Who calls comes first: a stranger learns nothing about the body.
    assert_error(await api.anonymous.post("/rooms", json={"bad": 1}), 401)


async def test_a_title_in_any_script_makes_a_room_found_by_its_slug(api: ApiUsers) -> None:
    alice = await api.new()
    title = f"日本語チーム {secrets.token_hex(3)}"
    room = await alice.new_room(title)
    assert room["title"] == title and room["slug"].startswith("日本語チーム-")
    found = await alice.http.get(f"/rooms/{room['slug']}")  # percent-encoded on the wire
    assert found.status_code == 200 and found.json()["title"] == title
    posted = await alice.http.post(f"/rooms/{room['slug']}/messages", json={"body": "はい"})
    assert posted.status_code == 201


async def test_directory_lists_every_room_with_joined_flag(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    room = await alice.new_room()
    listed = {r["slug"]: r for r in (await bob.http.get("/rooms")).json()["rooms"]}
    assert listed[room["slug"]]["joined"] is False and listed["general"]["joined"] is True
    mine = (await bob.http.get("/rooms", params={"joined": "true"})).json()["rooms"]
    others = (await bob.http.get("/rooms", params={"joined": "false"})).json()["rooms"]
    assert room["slug"] not in [r["slug"] for r in mine]
    assert room["slug"] in [r["slug"] for r in others]
    assert_error(await bob.http.get("/rooms", params={"joined": "perhaps"}), 422, "invalid")
    assert_error(await api.anonymous.get("/rooms"), 401, "unauthenticated")


async def test_get_room(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    room = await alice.new_room()
    seen = await bob.http.get(f"/rooms/{room['slug']}")
    assert seen.status_code == 200 and seen.json()["joined"] is False
    assert_error(await bob.http.get("/rooms/no-such-room"), 404, "not_found")
    assert_error(await api.anonymous.get(f"/rooms/{room['slug']}"), 401, "unauthenticated")


async def test_join_and_leave(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    slug = (await alice.new_room())["slug"]
    joined = await bob.http.post(f"/rooms/{slug}/join")
    assert joined.status_code == 200 and joined.json()["joined"] is True
    assert (await bob.http.post(f"/rooms/{slug}/join")).status_code == 200  # twice is fine
    members = (await bob.http.get(f"/rooms/{slug}/members")).json()["members"]
    assert sorted(u["username"] for u in members) == sorted([alice.username, bob.username])
    left = await bob.http.post(f"/rooms/{slug}/leave")
    assert left.status_code == 200 and left.json()["joined"] is False
    assert_error(await bob.http.post(f"/rooms/{slug}/leave"), 403, "forbidden")
    assert_error(await bob.http.post("/rooms/no-such-room/join"), 404, "not_found")
    assert_error(await bob.http.post("/rooms/no-such-room/leave"), 404, "not_found")
    assert_error(await api.anonymous.post(f"/rooms/{slug}/join"), 401, "unauthenticated")
    assert_error(await api.anonymous.post(f"/rooms/{slug}/leave"), 401, "unauthenticated")


async def test_members_only_for_members(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    slug = (await alice.new_room())["slug"]
    members = await alice.http.get(f"/rooms/{slug}/members")
    assert members.status_code == 200
    assert [(u["username"], u["online"]) for u in members.json()["members"]] == [
        (alice.username, False)
    ]
    assert_error(await bob.http.get(f"/rooms/{slug}/members"), 403, "forbidden")
    assert_error(await bob.http.get("/rooms/no-such-room/members"), 404, "not_found")
    assert_error(await api.anonymous.get(f"/rooms/{slug}/members"), 401, "unauthenticated")
