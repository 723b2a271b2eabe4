"""Sign-in sessions are kept on the server: signing out (here, everywhere, or by changing
the password) ends them for every later request and closes their open sockets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Browser, expect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.browser import needs_chromium, sign_up
from tests.conftest import Person, hello
from tests.web.test_api_support import API, ApiUsers
from tests.web.test_ws import top_seq

PASSWORD = "correct horse"


async def second_session(owner: Person, base_url: str) -> Person:
    """The same person signed in from another browser."""
    other = Person(base_url)
    other.username = owner.username
    response = await other.login(owner.username, PASSWORD)
    assert response.status_code == 302, response.text
    return other


def copy_of(person: Person, base_url: str) -> Person:
    """A stranger holding a copy of `person`'s cookies, as taken before they sign out."""
    thief = Person(base_url)
    thief.username = person.username
    for name, value in person.http.cookies.items():
        thief.http.cookies.set(name, value)
    return thief


async def closed_with(ws: Any, seconds: float = 5.0) -> int | None:
    """The close code the server sends within `seconds` (what else arrives is skipped)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd is not None else None


async def still_open(ws: Any, seconds: float = 0.7) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False


async def assert_signed_out(person: Person) -> None:
    page = await person.http.get("/rooms/general")
    assert page.status_code == 302
    assert page.headers["location"].startswith("/login")
    me = await person.http.get(f"{API}/users/me")
    assert me.status_code == 401
    with pytest.raises(InvalidStatus) as refused:
        async with person.connect("general"):
            pass
    assert refused.value.response.status_code == 401


async def sign_out(person: Person) -> None:
    response = await person.post_form("/logout", {}, page="/rooms/general")
    assert response.status_code == 302


async def test_a_cookie_copied_before_sign_out_opens_nothing_after(
    person_factory: Any, base_url: str
) -> None:
    owner: Person = await person_factory()
    thief = copy_of(owner, base_url)
    assert (await thief.http.get("/rooms/general")).status_code == 200  # the copy works...
    assert (await thief.http.get(f"{API}/users/me")).status_code == 200
    await sign_out(owner)
    await assert_signed_out(thief)  # ...until its owner signs out
    await thief.close()


async def test_sign_out_closes_that_sessions_socket_and_no_other(
    person_factory: Any, base_url: str
) -> None:
    owner: Person = await person_factory()
    other = await second_session(owner, base_url)
    start = await top_seq("general")
    async with owner.connect("general") as mine, other.connect("general") as theirs:
        await hello(mine, start)
        await hello(theirs, start)
        await sign_out(owner)
        assert await closed_with(mine) == 1008
        assert await still_open(theirs)
    assert (await other.http.get("/rooms/general")).status_code == 200
    await other.close()


async def test_sign_out_everywhere_ends_every_session_and_socket(
    person_factory: Any, base_url: str
) -> None:
    owner: Person = await person_factory()
    other = await second_session(owner, base_url)
    start = await top_seq("general")
    async with owner.connect("general") as mine, other.connect("general") as theirs:
        await hello(mine, start)
        await hello(theirs, start)
        page = await owner.http.get("/settings/password")
        assert "Sign out everywhere" in page.text
        out = await owner.post_form("/logout/everywhere", {}, page="/settings/password")
        assert out.status_code == 302
        assert out.headers["location"].startswith("/login")
        assert await closed_with(mine) == 1008
        assert await closed_with(theirs) == 1008
    await assert_signed_out(owner)
    await assert_signed_out(other)
    await other.close()


async def test_changing_the_password_keeps_this_session_and_ends_the_others(
    person_factory: Any, base_url: str
) -> None:
    owner: Person = await person_factory()
    other = await second_session(owner, base_url)
    start = await top_seq("general")
    async with owner.connect("general") as mine, other.connect("general") as theirs:
        await hello(mine, start)
        await hello(theirs, start)
        changed = await owner.post_form(
            "/settings/password",
            {"current_password": PASSWORD, "new_password": "a new horse"},
        )
        assert changed.status_code == 200, changed.text
        assert "Your password is changed" in changed.text
        assert await closed_with(theirs) == 1008
        assert await still_open(mine)
    assert (await owner.http.get("/rooms/general")).status_code == 200
    await assert_signed_out(other)
    stranger = Person(base_url)
    assert (await stranger.login(owner.username, PASSWORD)).status_code == 401
    assert (await stranger.login(owner.username, "a new horse")).status_code == 302
    await stranger.close()
    await other.close()


@pytest.mark.parametrize(
    ("current", "new", "status", "expected"),
    [
        ("wrong horse", "a new horse", 422, "The current password is wrong."),
        (PASSWORD, "short", 422, "Password must be 8 to 256 characters."),
    ],
)
async def test_a_refused_password_change_says_why_and_ends_nothing(
    person_factory: Any, base_url: str, current: str, new: str, status: int, expected: str
) -> None:
    owner: Person = await person_factory()
    other = await second_session(owner, base_url)
    response = await owner.post_form(
        "/settings/password", {"current_password": current, "new_password": new}
    )
    assert response.status_code == status
    assert expected in response.text
    assert 'role="alert"' in response.text
    assert (await other.http.get("/rooms/general")).status_code == 200
    await other.close()


async def test_the_api_changes_the_password_and_ends_browser_sessions(
    base_url: str, api: ApiUsers
) -> None:
    bot = await api.new()
    browser = Person(base_url)
    assert (await browser.login(bot.username, "correct horse battery")).status_code == 302
    wrong = await bot.http.post(
        "/users/me/password", json={"current_password": "nope", "new_password": "x" * 12}
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "invalid"
    bad = await bot.http.post("/users/me/password", json={"current_password": 5})
    assert bad.status_code == 422
    done = await bot.http.post(
        "/users/me/password",
        json={"current_password": "correct horse battery", "new_password": "a new battery"},
    )
    assert done.status_code == 204, done.text
    await assert_signed_out(browser)
    assert (await bot.http.get("/users/me")).status_code == 200  # tokens are not sessions
    await browser.close()


async def test_revoking_a_token_closes_its_event_stream(api: ApiUsers) -> None:
    bot = await api.new()
    listed = (await bot.http.get("/tokens")).json()["tokens"]
    async with bot.stream() as ws:
        await ws.recv()  # stream.ready
        second = await api.anonymous.post(
            "/tokens",
            json={"username": bot.username, "password": "correct horse battery", "name": "b"},
        )
        assert second.status_code == 201
        bot.http.headers["Authorization"] = f"Bearer {second.json()['token']}"
        revoked = await bot.http.delete(f"/tokens/{listed[0]['id']}")
        assert revoked.status_code == 204
        assert await closed_with(ws) == 1008


@pytest.fixture
async def api(base_url: str) -> Any:
    async with ApiUsers(base_url) as users:
        yield users


@needs_chromium
@pytest.mark.browser
async def test_a_page_whose_session_ends_elsewhere_goes_to_the_sign_in_form(
    browser: Browser, base_url: str
) -> None:
    """Signed out everywhere from another browser, the open room page does not sit there
    disconnected: its socket is closed (1008) and the page asks to sign in again."""
    page = await sign_up(browser, base_url, "Wanderer")
    username = await page.locator(".whoami").inner_text()
    other = Person(base_url)
    name = username.split("@", 1)[1].rstrip(")").strip()
    assert (await other.login(name, "correct horse battery")).status_code == 302
    everywhere = await other.post_form("/logout/everywhere", {}, page="/settings/password")
    assert everywhere.status_code == 302
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Frooms%2Fgeneral"), timeout=5000)
    await other.close()
    await page.context.close()
