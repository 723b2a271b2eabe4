"""chat/tokens.py: API tokens issued, used, listed and revoked, stored only as a hash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tac.chat import Chat, tokens
from tac.chat.errors import Conflict, Invalid, NotFound, Unauthenticated
from tac.models import ApiToken
from tests.chat.conftest import changed, new_user


async def test_a_token_is_shown_once_and_stored_only_as_its_hash(chat: Chat) -> None:
    owner = await new_user(chat)
    token, secret = await tokens.issue_token(chat, owner, "  my   bot ")
    assert secret.startswith(tokens.TOKEN_PREFIX) and token.name == "my bot"
    stored = await ApiToken.get(token.id)
    assert stored is not None and stored.owner == owner.id
    assert stored.hash == tokens.token_hash(secret) != secret
    assert stored.prefix == secret[: tokens.SHOWN_CHARS]
    assert secret not in stored.model_dump_json()


async def test_an_unnamed_token_gets_a_name(chat: Chat) -> None:
    token, _ = await tokens.issue_token(chat, await new_user(chat), "   ")
    assert token.name == "API token"


async def test_a_too_long_name_is_invalid(chat: Chat) -> None:
    with pytest.raises(Invalid) as refused:
        await tokens.issue_token(chat, await new_user(chat), "n" * 65)
    assert refused.value.field == "name"


async def test_one_token_past_the_most_allowed_is_a_conflict(chat: Chat) -> None:
    owner, few = await new_user(chat), changed(chat, api_tokens_per_user_max=2)
    await tokens.issue_token(few, owner, "one")
    await tokens.issue_token(few, owner, "two")
    with pytest.raises(Conflict):
        await tokens.issue_token(few, owner, "three")
    assert len(await tokens.tokens_of(owner)) == 2


async def test_a_token_authenticates_its_owner_and_notes_its_use(chat: Chat) -> None:
    owner = await new_user(chat)
    token, secret = await tokens.issue_token(chat, owner, "bot")
    assert token.last_used_at is None
    assert (await tokens.user_for_token(chat, secret)).id == owner.id
    used = await ApiToken.get(token.id)
    assert used is not None and used.last_used_at is not None


async def test_use_is_noted_at_most_once_a_while(chat: Chat) -> None:
    owner = await new_user(chat)
    token, secret = await tokens.issue_token(chat, owner, "busy bot")
    await tokens.user_for_token(chat, secret)
    first = await ApiToken.get(token.id)
    await tokens.user_for_token(chat, secret)
    second = await ApiToken.get(token.id)
    assert first is not None and second is not None
    assert second.last_used_at == first.last_used_at  # within api_token_touch_seconds
    assert first.last_used_at is not None
    await ApiToken.find_one(ApiToken.id == token.id).update(
        {"$set": {"last_used_at": first.last_used_at - timedelta(hours=1)}}
    )
    await tokens.user_for_token(chat, secret)
    third = await ApiToken.get(token.id)
    assert third is not None and third.last_used_at is not None
    assert third.last_used_at > first.last_used_at - timedelta(hours=1)


async def test_an_unknown_token_does_not_authenticate(chat: Chat) -> None:
    with pytest.raises(Unauthenticated):
        await tokens.user_for_token(chat, tokens.TOKEN_PREFIX + "made-up")


async def test_a_token_of_a_deleted_user_does_not_authenticate(chat: Chat) -> None:
    owner = await new_user(chat)
    _, secret = await tokens.issue_token(chat, owner, "orphan")
    await owner.delete()
    with pytest.raises(Unauthenticated):
        await tokens.user_for_token(chat, secret)


async def test_tokens_of_lists_only_the_owners_oldest_first(chat: Chat) -> None:
    owner, other = await new_user(chat), await new_user(chat)
    for name in ("first", "second", "third"):
        await tokens.issue_token(chat, owner, name)
    await tokens.issue_token(chat, other, "theirs")
    assert [t.name for t in await tokens.tokens_of(owner)] == ["first", "second", "third"]


async def test_revoked_token_no_longer_authenticates(chat: Chat) -> None:
    owner = await new_user(chat)
    token, secret = await tokens.issue_token(chat, owner, "short-lived")
    kept, kept_secret = await tokens.issue_token(chat, owner, "kept")
    await tokens.revoke_token(owner, str(token.id))
    with pytest.raises(Unauthenticated):
        await tokens.user_for_token(chat, secret)
    assert (await tokens.user_for_token(chat, kept_secret)).id == owner.id
    assert [t.id for t in await tokens.tokens_of(owner)] == [kept.id]
    with pytest.raises(NotFound):
        await tokens.revoke_token(owner, str(token.id))  # already gone


async def test_nobody_revokes_anothers_token_and_learns_only_not_found(chat: Chat) -> None:
    owner, stranger = await new_user(chat), await new_user(chat)
    token, secret = await tokens.issue_token(chat, owner, "mine")
    with pytest.raises(NotFound):
        await tokens.revoke_token(stranger, str(token.id))
    with pytest.raises(NotFound):
        await tokens.revoke_token(stranger, "not an id")
    assert (await tokens.user_for_token(chat, secret)).id == owner.id


@pytest.mark.parametrize("name", ["bot \ud800", "bot\x00", "bot\u2066x", "bot\nname"])
async def test_a_token_name_with_refused_characters_issues_no_token(chat: Chat, name: str) -> None:
    owner = await new_user(chat)
    with pytest.raises(Invalid) as refused:
        await tokens.issue_token(chat, owner, name)
    assert refused.value.field == "name"
    assert await ApiToken.find(ApiToken.owner == owner.id).count() == 0
