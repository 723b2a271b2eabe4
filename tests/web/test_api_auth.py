"""Accounts and tokens over the API; the browser session with its CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tac.models import ApiToken
from tac.settings import Settings
from tests.conftest import Person
from tests.web.test_api_support import API, PASSWORD, ApiUsers, assert_error


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


async def test_register_then_token_then_me(api: ApiUsers) -> None:
    alice = await api.new()
    me = await alice.http.get("/users/me")
    assert me.status_code == 200
    assert me.json()["username"] == alice.username
    assert me.json()["id"] == alice.id
    rooms = (await alice.http.get("/rooms", params={"joined": "true"})).json()["rooms"]
    assert [r["slug"] for r in rooms] == ["general"]  # like a person who signs up in the browser


async def test_register_refuses_taken_name_and_bad_bodies(api: ApiUsers) -> None:
    alice = await api.new()
    taken = await api.anonymous.post(
        "/users", json={"username": alice.username.upper(), "password": PASSWORD}
    )
    assert_error(taken, 409, "conflict")
    assert_error(await api.anonymous.post("/users", json={"username": "ab"}), 422, "invalid")
    short = await api.anonymous.post("/users", json={"username": "abcdef", "password": "x"})
    assert_error(short, 422, "invalid")
    assert_error(await api.anonymous.post("/users", json=[1, 2]), 422, "invalid")
    assert_error(await api.anonymous.post("/users", content=b"{nope"), 422)


async def test_registration_can_be_closed(api: ApiUsers, settings: Settings) -> None:
    settings.api_registration_open = False
    try:
        response = await api.anonymous.post(
            "/users", json={"username": "closed_door", "password": PASSWORD}
        )
    finally:
        settings.api_registration_open = True
    assert_error(response, 403, "forbidden")


async def test_token_needs_the_right_password(api: ApiUsers) -> None:
    alice = await api.new()
    wrong = await api.anonymous.post(
        "/tokens", json={"username": alice.username, "password": "wrong password"}
    )
    assert_error(wrong, 401, "unauthenticated")
    nobody = await api.anonymous.post("/tokens", json={"username": "nobody_x", "password": "p"})
    assert_error(nobody, 401, "unauthenticated")
    assert_error(await api.anonymous.post("/tokens", json={"username": 5}), 422, "invalid")
    too_long = await api.anonymous.post(
        "/tokens", json={"username": alice.username, "password": PASSWORD, "name": "n" * 500}
    )
    assert_error(too_long, 422, "invalid")


async def test_tokens_are_stored_hashed_listed_and_revoked(api: ApiUsers) -> None:
    alice = await api.new()
    issued = await api.anonymous.post(
        "/tokens", json={"username": alice.username, "password": PASSWORD, "name": "my bot"}
    )
    assert issued.status_code == 201
    second = issued.json()
    assert second["token"].startswith(second["prefix"])
    stored = await ApiToken.find_one(ApiToken.prefix == second["prefix"])
    assert stored is not None and second["token"] not in stored.model_dump_json()

    listed = (await alice.http.get("/tokens")).json()["tokens"]
    assert [t["name"] for t in listed] == ["tests", "my bot"]
    assert all("token" not in t for t in listed)
    assert listed[0]["last_used_at"] is not None  # alice's own token: it listed these

    revoked = await alice.http.delete(f"/tokens/{second['id']}")
    assert revoked.status_code == 204
    headers = {"Authorization": f"Bearer {second['token']}"}
    assert_error(await api.anonymous.get("/users/me", headers=headers), 401, "unauthenticated")
    assert_error(await alice.http.delete(f"/tokens/{second['id']}"), 404, "not_found")
    assert_error(await alice.http.delete("/tokens/not-an-id"), 404, "not_found")


async def test_nobody_revokes_or_sees_anothers_token(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    bobs = (await bob.http.get("/tokens")).json()["tokens"][0]
    assert_error(await alice.http.delete(f"/tokens/{bobs['id']}"), 404, "not_found")
    assert (await bob.http.get("/users/me")).status_code == 200
    mine = (await alice.http.get("/tokens")).json()["tokens"]
    assert bobs["id"] not in [t["id"] for t in mine]


async def test_token_endpoints_need_a_caller(api: ApiUsers) -> None:
    assert_error(await api.anonymous.get("/tokens"), 401, "unauthenticated")
    assert_error(await api.anonymous.delete("/tokens/abc"), 401, "unauthenticated")
    bad = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert_error(await api.anonymous.get("/users/me", headers=bad), 401, "unauthenticated")
    empty = {"Authorization": "Bearer"}
    assert_error(await api.anonymous.get("/users/me", headers=empty), 401, "unauthenticated")
    unknown = await api.anonymous.get("/users/me", headers={"Authorization": "Bearer tac_x"})
    assert_error(unknown, 401, "unauthenticated")
    assert unknown.headers["www-authenticate"].startswith("Bearer")


async def test_too_many_tokens_is_a_conflict(api: ApiUsers, settings: Settings) -> None:
    alice = await api.new()
    body = {"username": alice.username, "password": PASSWORD}
    settings.api_tokens_per_user_max = 2
    try:
        assert (await api.anonymous.post("/tokens", json=body)).status_code == 201
        assert_error(await api.anonymous.post("/tokens", json=body), 409, "conflict")
    finally:
        settings.api_tokens_per_user_max = Settings.model_fields["api_tokens_per_user_max"].default


async def test_user_lookup(api: ApiUsers) -> None:
    alice, bob = await api.new(), await api.new()
    found = await alice.http.get(f"/users/{bob.username.upper()}")
    assert found.status_code == 200
    assert found.json()["id"] == bob.id
    assert "password_hash" not in found.text
    assert_error(await alice.http.get("/users/nobody_here"), 404, "not_found")
    assert_error(await api.anonymous.get(f"/users/{bob.username}"), 401, "unauthenticated")
    assert_error(await api.anonymous.get("/users/me"), 401, "unauthenticated")


async def test_browser_session_works_but_changes_need_csrf(person_factory: Any) -> None:
    person: Person = await person_factory()
    me = await person.http.get(f"{API}/users/me")
    assert me.status_code == 200 and me.json()["username"] == person.username
    refused = await person.http.post(f"{API}/rooms", json={"title": "no csrf here"})
    assert_error(refused, 403, "forbidden")
    token = await person.csrf("/rooms")
    wrong = await person.http.post(
        f"{API}/rooms", json={"title": "wrong csrf"}, headers={"X-CSRF-Token": token + "x"}
    )
    assert_error(wrong, 403, "forbidden")
    made = await person.http.post(
        f"{API}/rooms", json={"title": "with csrf"}, headers={"X-CSRF-Token": token}
    )
    assert made.status_code == 201, made.text


async def test_token_settings_page_creates_shows_once_and_revokes(person_factory: Any) -> None:
    person: Person = await person_factory()
    page = await person.http.get("/settings/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.text
    created = await person.post_form("/settings/tokens", {"name": "page bot"})
    assert created.status_code == 201
    secret = created.text.split('<code id="new-token">', 1)[1].split("<", 1)[0]
    api_client = httpx.AsyncClient(
        base_url=person.base_url + API, headers={"Authorization": f"Bearer {secret}"}
    )
    try:
        assert (await api_client.get("/users/me")).json()["username"] == person.username
        again = await person.http.get("/settings/tokens")
        assert secret not in again.text and "page bot" in again.text
        token_id = (await api_client.get("/tokens")).json()["tokens"][0]["id"]
        revoked = await person.post_form(
            f"/settings/tokens/{token_id}/revoke", {}, page="/settings/tokens"
        )
        assert revoked.status_code == 302
        assert (await api_client.get("/users/me")).status_code == 401
    finally:
        await api_client.aclose()
    anonymous = httpx.AsyncClient(base_url=person.base_url)
    try:
        assert (await anonymous.get("/settings/tokens")).status_code == 302
    finally:
        await anonymous.aclose()
