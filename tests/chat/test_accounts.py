"""chat/accounts.py: signing up, registering, signing in, finding people."""

from __future__ import annotations

import dataclasses

import pytest

from tac.chat import Chat, accounts
from tac.chat.errors import Conflict, Invalid, NotFound, RateLimited, Unauthenticated
from tac.chat.rooms import GENERAL, membership_of, room_by_slug
from tac.models import User
from tac.stores.ratelimit import LocalRateLimiter
from tests.chat.conftest import new_user
from tests.conftest import unique


async def test_sign_up_joins_general(chat: Chat) -> None:
    user = await accounts.sign_up(chat, unique(), "correct horse", "Ann Example")
    assert user.display_name == "Ann Example"
    assert await membership_of(user, await room_by_slug(GENERAL)) is not None


async def test_sign_up_that_fails_joins_nothing(chat: Chat) -> None:
    name = unique()
    with pytest.raises(Invalid):
        await accounts.sign_up(chat, name, "short")
    assert await User.find_one(User.username_key == name) is None


async def test_register_stores_a_hash_and_joins_no_room(chat: Chat) -> None:
    name = unique("Mixed")
    user = await accounts.register(chat, f"  {name} ", "correct horse", "  Ann   B.  ")
    assert user.username == name and user.username_key == name.lower()
    assert user.display_name == "Ann B."  # whitespace collapsed
    assert "correct horse" not in user.password_hash
    assert await membership_of(user, await room_by_slug(GENERAL)) is None


async def test_display_name_defaults_to_the_username(chat: Chat) -> None:
    name = unique()
    assert (await accounts.register(chat, name, "correct horse", "   ")).display_name == name


@pytest.mark.parametrize(
    ("username", "password", "display_name", "field"),
    [
        ("ab", "correct horse", "", "username"),
        ("x" * 33, "correct horse", "", "username"),
        ("has space", "correct horse", "", "username"),
        ("ünï", "correct horse", "", "username"),
        ("valid_name", "short", "", "password"),
        ("valid_name", "x" * 257, "", "password"),
        ("valid_name", "correct horse", "d" * 65, "display_name"),
    ],
)
async def test_register_refuses_bad_fields_naming_the_field(
    chat: Chat, username: str, password: str, display_name: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await accounts.register(chat, username, password, display_name)
    assert refused.value.field == field


async def test_a_username_is_taken_whatever_its_case(chat: Chat) -> None:
    user = await new_user(chat)
    with pytest.raises(Conflict) as refused:
        await accounts.register(chat, user.username.upper(), "another password")
    assert refused.value.field == "username"


async def test_the_right_password_signs_in_whatever_the_username_case(chat: Chat) -> None:
    user = await new_user(chat)
    found = await accounts.authenticate(chat, f" {user.username.upper()} ", "correct horse")
    assert found.id == user.id


async def test_wrong_password_is_refused_without_saying_which_part(chat: Chat) -> None:
    user = await new_user(chat)
    with pytest.raises(Unauthenticated) as wrong_password:
        await accounts.authenticate(chat, user.username, "wrong horse")
    with pytest.raises(Unauthenticated) as unknown_user:
        await accounts.authenticate(chat, unique("nobody"), "correct horse")
    assert wrong_password.value.message == unknown_user.value.message


async def test_too_many_sign_in_attempts_are_refused_even_with_the_right_password(
    chat: Chat,
) -> None:
    strict = dataclasses.replace(chat, login_limiter=LocalRateLimiter(2, 60))
    user = await new_user(chat)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await accounts.authenticate(strict, user.username, "wrong horse")
    with pytest.raises(RateLimited) as limited:
        await accounts.authenticate(strict, user.username.upper(), "correct horse")
    assert 0 < limited.value.retry_after <= 60
    other = await new_user(chat)  # another username is counted apart
    assert (await accounts.authenticate(strict, other.username, "correct horse")).id == other.id


async def test_user_by_id(chat: Chat) -> None:
    user = await new_user(chat)
    assert user.id is not None
    assert (await accounts.user_by_id(user.id)).username == user.username
    assert (await accounts.user_by_id(str(user.id))).username == user.username
    for missing in ["not an id", "0" * 24]:
        with pytest.raises(NotFound):
            await accounts.user_by_id(missing)


async def test_user_by_username_ignores_case(chat: Chat) -> None:
    user = await new_user(chat)
    assert (await accounts.user_by_username(user.username.upper())).id == user.id
    with pytest.raises(NotFound):
        await accounts.user_by_username(unique("nobody"))


@pytest.mark.parametrize(
    ("username", "password", "display_name", "field"),
    [
        ("ok_name", "correct horse", "\ud800", "display_name"),
        ("ok_name", "correct horse", "Ann\u202eevil", "display_name"),
        ("ok_name", "correct horse", "Ann\x00", "display_name"),
        ("ok_name", "correct \udc00 horse", "", "password"),
        ("bad\ud800", "correct horse", "", "username"),
    ],
)
async def test_registering_with_refused_text_stores_nobody(
    chat: Chat, username: str, password: str, display_name: str, field: str
) -> None:
    username = username.replace("ok_name", unique())
    before = await User.find_all().count()
    with pytest.raises(Invalid) as refused:
        await accounts.register(chat, username, password, display_name)
    assert refused.value.field == field
    assert await User.find_all().count() == before


async def test_signing_in_with_text_that_is_not_unicode_is_refused_not_crashed(
    chat: Chat,
) -> None:
    user = await new_user(chat)
    with pytest.raises(Invalid):
        await accounts.authenticate(chat, user.username, "correct \ud800")
    with pytest.raises(Invalid):
        await accounts.authenticate(chat, "\udfff", "correct horse")
