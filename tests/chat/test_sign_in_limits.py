"""chat/accounts.py: sign-in limits per address, per (username, address), and a high
ceiling per username, so a guesser is stopped without locking the owner out."""

from __future__ import annotations

import dataclasses

import pytest

from tac.chat import Chat, accounts
from tac.chat.errors import RateLimited, Unauthenticated
from tac.stores.ratelimit import LocalRateLimiter
from tests.chat.conftest import new_user
from tests.conftest import unique


def strict(chat: Chat, *, pair: int = 3, address: int = 5, username: int = 8) -> Chat:
    return dataclasses.replace(
        chat,
        login_limiter=LocalRateLimiter(pair, 60),
        login_address_limiter=LocalRateLimiter(address, 60),
        login_username_limiter=LocalRateLimiter(username, 60),
    )


async def guess(chat: Chat, username: str, address: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Unauthenticated):
            await accounts.authenticate(chat, username, "wrong horse", address)


async def test_a_guesser_does_not_lock_the_owner_out_from_another_address(chat: Chat) -> None:
    limited = strict(chat)
    owner = await new_user(chat)
    await guess(limited, owner.username, "203.0.113.7", 3)
    with pytest.raises(RateLimited) as refused:
        await accounts.authenticate(limited, owner.username, "correct horse", "203.0.113.7")
    assert "for this username" in refused.value.message
    found = await accounts.authenticate(limited, owner.username, "correct horse", "198.51.100.2")
    assert found.id == owner.id


async def test_one_address_guessing_many_usernames_is_stopped(chat: Chat) -> None:
    limited = strict(chat)
    for _ in range(5):
        await guess(limited, unique("victim"), "203.0.113.8", 1)
    with pytest.raises(RateLimited) as refused:
        await accounts.authenticate(limited, unique("victim"), "x", "203.0.113.8")
    assert "from your address" in refused.value.message
    assert refused.value.retry_after > 0
    owner = await new_user(chat)  # another address is not affected
    assert (await accounts.authenticate(limited, owner.username, "correct horse", "192.0.2.1")).id


async def test_many_addresses_together_meet_the_ceiling_per_username(chat: Chat) -> None:
    limited = strict(chat)
    owner = await new_user(chat)
    for i in range(8):
        await guess(limited, owner.username, f"203.0.113.{100 + i}", 1)
    with pytest.raises(RateLimited) as refused:
        await accounts.authenticate(limited, owner.username, "correct horse", "192.0.2.9")
    assert "from many addresses" in refused.value.message


async def test_an_ipv6_network_counts_as_one_address(chat: Chat) -> None:
    limited = strict(chat)
    owner = await new_user(chat)
    for i in range(3):  # a /64 holds 2**64 addresses: changing the last ones does not help
        await guess(limited, owner.username, f"2001:db8:1:2::{i + 1}", 1)
    with pytest.raises(RateLimited):
        await accounts.authenticate(limited, owner.username, "correct horse", "2001:db8:1:2::99")
    found = await accounts.authenticate(limited, owner.username, "correct horse", "2001:db8:1:3::1")
    assert found.id == owner.id


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("not an address", "not an address"),
    ],
)
def test_address_key(address: str, key: str) -> None:
    assert accounts.address_key(address) == key


def test_the_ceiling_per_username_is_a_high_setting(chat: Chat) -> None:
    s = chat.settings
    assert s.login_username_attempts_max >= 10 * s.login_attempts_max
