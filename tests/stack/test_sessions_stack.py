"""Sessions and sign-in limits across two real instances behind nginx (ops/stack.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ops.stack import Stack
from tests.conftest import Person, hello
from tests.web.test_sessions import closed_with, copy_of, still_open
from tests.web.test_sign_in_limits import from_address

pytestmark = pytest.mark.stack

People = Callable[[str], Awaitable[Person]]


async def test_sign_out_on_one_instance_closes_the_sessions_socket_on_the_other(
    stack: Stack, people: People
) -> None:
    a_url, b_url = stack.instance_urls
    owner = await people(a_url)
    on_b = copy_of(owner, b_url)  # the same session, its socket on instance B
    other = Person(b_url)  # another session of the same person, also on B
    assert (await other.login(owner.username, "correct horse")).status_code == 302
    async with on_b.connect("general") as mine, other.connect("general") as theirs:
        await hello(mine, 0)
        await hello(theirs, 0)
        out = await owner.post_form("/logout", {}, page="/rooms/general")
        assert out.status_code == 302
        assert await closed_with(mine) == 1008
        assert await still_open(theirs)
    assert (await on_b.http.get("/rooms/general")).status_code == 302
    await on_b.close()
    await other.close()


async def test_behind_nginx_a_guesser_does_not_lock_out_the_owner(
    stack: Stack, people: People
) -> None:
    """nginx passes each client's address in X-Forwarded-For (TAC_TRUSTED_PROXY_HOPS=1):
    without it every client would be nginx, and one guesser would lock out everyone."""
    owner = await people(stack.url)
    guesser = from_address(stack.url, "127.0.0.1")
    for i in range(10):
        assert (await guesser.login(owner.username, f"guess {i}")).status_code == 401
    assert (await guesser.login(owner.username, "correct horse")).status_code == 429
    elsewhere = from_address(stack.url, "127.0.0.2")
    assert (await elsewhere.login(owner.username, "correct horse")).status_code == 302
    await guesser.close()
    await elsewhere.close()
