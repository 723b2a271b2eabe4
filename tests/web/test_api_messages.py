"""Messages over the API: post, and history by seq with a capped page size."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart

from tac.settings import Settings
from tests.web.test_api_support import ApiUser, ApiUsers, assert_error


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


async def room_with(user: ApiUser, count: int) -> str:
    slug: str = (await user.new_room())["slug"]
    for n in range(1, count + 1):
        await user.post(slug, f"message {n}")
    return slug


def seqs(page: dict[str, list[dict[str, int]]]) -> list[int]:
    return [m["seq"] for m in page["messages"]]


async def test_post_returns_the_stored_message(api: ApiUsers) -> None:
    alice = await api.new()
    slug = (await alice.new_room())["slug"]
    posted = await alice.http.post(f"/rooms/{slug}/messages", json={"body": "  hello <b>  "})
    assert posted.status_code == 201
    message = posted.json()
    assert message["seq"] == 1 and message["body"] == "hello <b>"
    assert message["author"] == alice.id and message["deleted"] is False
    page = (await alice.http.get(f"/rooms/{slug}/messages")).json()
    assert page["messages"] == [message] and page["last_seq"] == 1


async def test_post_refusals(api: ApiUsers, settings: Settings) -> None:
    alice, bob = await api.new(), await api.new()
    slug = (await alice.new_room())["slug"]
    path = f"/rooms/{slug}/messages"
    assert_error(await bob.http.post(path, json={"body": "let me in"}), 403, "forbidden")
    assert_error(await alice.http.post("/rooms/nope/messages", json={"body": "x"}), 404)
    assert_error(await alice.http.post(path, json={"body": "   "}), 422, "invalid")
    too_long = "x" * (settings.message_max_chars + 1)
    assert_error(await alice.http.post(path, json={"body": too_long}), 422, "invalid")
    assert_error(await alice.http.post(path, json={"text": "wrong field"}), 422, "invalid")
    assert_error(await alice.http.post(path, json={"body": 42}), 422, "invalid")
    assert_error(await api.anonymous.post(path, json={"body": "anon"}), 401, "unauthenticated")


class Refuse:
    """A rate limiter that always says: wait."""

    async def retry_after(self, key: str) -> float:
        return 2.4


async def test_posting_too_fast_is_429_with_retry_after(api: ApiUsers, app: Quart) -> None:
    alice = await api.new()
    slug = (await alice.new_room())["slug"]
    chat = app.extensions["tac"].chat
    real = chat.rate_limiter
    object.__setattr__(chat, "rate_limiter", Refuse())  # Chat is frozen: swap for this test only
    try:
        response = await alice.http.post(f"/rooms/{slug}/messages", json={"body": "fast"})
    finally:
        object.__setattr__(chat, "rate_limiter", real)
    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "2"


async def test_history_before_and_after(api: ApiUsers) -> None:
    alice = await api.new()
    slug = await room_with(alice, 7)
    path = f"/rooms/{slug}/messages"
    assert seqs((await alice.http.get(path, params={"limit": 3})).json()) == [5, 6, 7]
    assert seqs((await alice.http.get(path, params={"before": 5, "limit": 3})).json()) == [2, 3, 4]
    assert seqs((await alice.http.get(path, params={"before": 2, "limit": 3})).json()) == [1]
    assert seqs((await alice.http.get(path, params={"after": 0, "limit": 3})).json()) == [1, 2, 3]
    assert seqs((await alice.http.get(path, params={"after": 5, "limit": 3})).json()) == [6, 7]
    assert seqs((await alice.http.get(path, params={"after": 7})).json()) == []


async def test_page_size_is_capped_by_the_setting(api: ApiUsers, settings: Settings) -> None:
    alice = await api.new()
    slug = await room_with(alice, 5)
    settings.api_page_size_max = 2
    try:
        page = await alice.http.get(f"/rooms/{slug}/messages", params={"limit": 1000})
    finally:
        settings.api_page_size_max = Settings.model_fields["api_page_size_max"].default
    assert seqs(page.json()) == [4, 5]


async def test_history_refusals(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    slug = await room_with(alice, 1)
    path = f"/rooms/{slug}/messages"
    assert_error(await bob.http.get(path), 403, "forbidden")
    assert_error(await alice.http.get("/rooms/nope/messages"), 404, "not_found")
    assert_error(await api.anonymous.get(path), 401, "unauthenticated")
    for bad in ({"before": "x"}, {"limit": 0}, {"after": -1}, {"before": 0}, {"limit": 10**30}):
        assert_error(await alice.http.get(path, params=bad), 422, "invalid")
    both = await alice.http.get(path, params={"before": 3, "after": 1})
    assert_error(both, 422, "invalid")


async def test_posting_again_with_the_same_client_id_returns_the_first_message(
    api: ApiUsers,
) -> None:
    alice = await api.new()
    room = await alice.new_room()
    first = await alice.http.post(
        f"/rooms/{room['slug']}/messages", json={"body": "once", "client_id": "bot-7"}
    )
    again = await alice.http.post(
        f"/rooms/{room['slug']}/messages", json={"body": "once", "client_id": "bot-7"}
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["client_id"] == "bot-7"
    page = await alice.http.get(f"/rooms/{room['slug']}/messages")
    assert [m["body"] for m in page.json()["messages"]] == ["once"]
