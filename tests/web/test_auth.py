"""Accounts through real HTTP: forms that work as plain POSTs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Person, unique


async def test_register_signs_in_and_lands_in_general(person_factory: Any) -> None:
    person: Person = await person_factory()
    page = await person.http.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "#general" in page.text
    assert f"@{person.username}" in page.text
    cookie = person.http.cookies.jar
    assert any(c.has_nonstandard_attr("HttpOnly") for c in cookie)


async def test_session_cookie_is_httponly_and_lax(base_url: str) -> None:
    person = Person(base_url)
    response = await person.register()
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
    await person.close()


async def test_duplicate_username_is_refused_case_insensitively(person_factory: Any) -> None:
    first: Person = await person_factory()
    second: Person = await person_factory(register=False)
    response = await second.register(first.username.upper())
    assert response.status_code == 409
    assert "That username is taken." in response.text


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("ab", "correct horse", "Username must be 3 to 32 characters."),
        ("x" * 33, "correct horse", "Username must be 3 to 32 characters."),
        ("bad name!", "correct horse", "Username may use only letters"),
        (None, "short", "Password must be 8 to 256 characters."),
        (None, "p" * 257, "Password must be 8 to 256 characters."),
    ],
)
async def test_bad_registration_gets_an_inline_error(
    person_factory: Any, username: str | None, password: str, expected: str
) -> None:
    person: Person = await person_factory(register=False)
    response = await person.register(username or unique(), password)
    assert response.status_code == 422
    assert expected in response.text
    assert 'role="alert"' in response.text


async def test_wrong_password_and_unknown_user_get_the_same_message(person_factory: Any) -> None:
    owner: Person = await person_factory()
    stranger: Person = await person_factory(register=False)
    wrong = await stranger.login(owner.username, "not the password")
    unknown = await stranger.login(unique("nobody"), "whatever pass")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.text
    assert "Wrong username or password." in unknown.text


async def test_sign_in_then_sign_out(person_factory: Any, base_url: str) -> None:
    owner: Person = await person_factory()
    again = Person(base_url)
    response = await again.login(owner.username, "correct horse")
    assert response.status_code == 302
    assert (await again.http.get("/rooms/general")).status_code == 200
    out = await again.post_form("/logout", {}, page="/rooms/general")
    assert out.status_code == 302
    after = await again.http.get("/rooms/general")
    assert after.status_code == 302
    assert after.headers["location"].startswith("/login")
    await again.close()


@pytest.mark.parametrize(
    "path", ["/", "/rooms", "/rooms/general", "/rooms/general/history?before=5"]
)
async def test_pages_redirect_to_sign_in_when_signed_out(base_url: str, path: str) -> None:
    person = Person(base_url)
    response = await person.http.get(path)
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?next=")
    await person.close()


async def test_form_without_csrf_token_is_refused(person_factory: Any) -> None:
    person: Person = await person_factory()
    response = await person.http.post("/rooms", data={"title": "sneaky"})
    assert response.status_code == 400
    assert "The form expired" in response.text


async def test_sign_in_redirects_only_to_local_pages(person_factory: Any, base_url: str) -> None:
    owner: Person = await person_factory()
    again = Person(base_url)
    token = await again.csrf("/login")
    response = await again.http.post(
        "/login?next=//evil.example/x",
        data={"username": owner.username, "password": "correct horse", "csrf_token": token},
    )
    assert response.headers["location"] == "/"
    await again.close()


async def test_guessing_passwords_is_slowed_down(person_factory: Any, base_url: str) -> None:
    owner: Person = await person_factory()
    guesser = Person(base_url)
    statuses = [(await guesser.login(owner.username, f"guess {i}")).status_code for i in range(10)]
    assert statuses == [401] * 10
    blocked = await guesser.login(owner.username, "correct horse")  # even the right one, for now
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.text
    api = await guesser.http.post(
        "/api/v1/tokens", json={"username": owner.username, "password": "correct horse"}
    )
    assert api.status_code == 429
    assert api.json()["error"]["code"] == "rate_limited"
    assert int(api.headers["Retry-After"]) > 0
    await guesser.close()
