"""Sign-in limits through real HTTP: a guesser at one address does not lock out the owner,
who signs in from another (127.0.0.2: the loopback range reaches Hypercorn on 127.0.0.1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quart import Quart

from tac.app import create_app
from tac.settings import Settings
from tac.web.auth import client_address
from tests.conftest import Person


def from_address(base_url: str, address: str) -> Person:
    person = Person(base_url)
    person.http = httpx.AsyncClient(
        base_url=base_url,
        follow_redirects=False,
        transport=httpx.AsyncHTTPTransport(local_address=address),
    )
    return person


async def test_guesses_from_one_address_do_not_lock_out_the_owner_at_another(
    person_factory: Any, base_url: str, settings: Settings
) -> None:
    owner: Person = await person_factory()
    guesser = from_address(base_url, "127.0.0.1")
    tries = settings.login_attempts_max
    statuses = [
        (await guesser.login(owner.username, f"guess {i}")).status_code for i in range(tries)
    ]
    assert statuses == [401] * tries
    stopped = await guesser.login(owner.username, "another guess")
    assert stopped.status_code == 429  # the guesser is stopped...
    assert "Too many sign-in attempts" in stopped.text
    elsewhere = from_address(base_url, "127.0.0.2")
    signed_in = await elsewhere.login(owner.username, "correct horse")
    assert signed_in.status_code == 302, signed_in.text  # ...and the owner is not
    assert (await elsewhere.http.get("/rooms/general")).status_code == 200
    api = await elsewhere.http.post(
        "/api/v1/tokens", json={"username": owner.username, "password": "correct horse"}
    )
    assert api.status_code == 201, api.text
    await guesser.close()
    await elsewhere.close()


@pytest.fixture(scope="module")
def proxied_app(settings: Settings) -> Quart:
    """An app (not served) behind one trusted proxy, to read client addresses with."""
    return create_app(settings.model_copy(update={"trusted_proxy_hops": 1}))


@pytest.mark.parametrize(
    ("forwarded", "address"),
    [
        (["198.51.100.4"], "198.51.100.4"),
        (["6.6.6.6, 198.51.100.4"], "198.51.100.4"),  # what the client made up is left of it
        (["6.6.6.6", "198.51.100.4"], "198.51.100.4"),
        ([], ""),
    ],
)
async def test_behind_a_trusted_proxy_the_address_is_the_one_it_saw(
    proxied_app: Quart, forwarded: list[str], address: str
) -> None:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    async with proxied_app.test_request_context("/login", headers=headers):
        assert client_address() == address
