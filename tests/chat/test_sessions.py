"""chat/sessions.py: sessions begun, read, ended one at a time or all but one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tac.chat import Chat, accounts, sessions
from tac.chat.errors import Invalid, Unauthenticated
from tac.models import Session
from tac.models.user import utcnow
from tests.chat.conftest import changed, new_user


async def test_a_session_is_stored_only_as_a_hash_and_read_back(chat: Chat) -> None:
    user = await new_user(chat)
    secret = await sessions.begin_session(chat, user, user_agent="x" * 500, address="192.0.2.1")
    found = await sessions.signed_in(chat, secret)
    assert found.user.id == user.id
    assert found.session == sessions.session_id(secret) != secret
    stored = await Session.get(found.session)
    assert stored is not None and stored.address == "192.0.2.1"
    assert len(stored.user_agent) == sessions.USER_AGENT_MAX_CHARS
    assert await Session.find({"_id": secret}).count() == 0


async def test_an_ended_session_is_refused(chat: Chat) -> None:
    user = await new_user(chat)
    secret = await sessions.begin_session(chat, user)
    await sessions.end_session(chat, secret)
    with pytest.raises(Unauthenticated):
        await sessions.signed_in(chat, secret)
    await sessions.end_session(chat, secret)  # twice is harmless
    with pytest.raises(Unauthenticated):
        await sessions.signed_in(chat, "")


async def test_an_expired_session_is_refused_and_removed(chat: Chat) -> None:
    user = await new_user(chat)
    secret = await sessions.begin_session(chat, user)
    sid = sessions.session_id(secret)
    past = utcnow() - timedelta(seconds=1)
    await Session.find_one(Session.id == sid).update({"$set": {"expires_at": past}})
    with pytest.raises(Unauthenticated):
        await sessions.signed_in(chat, secret)
    assert await Session.get(sid) is None


async def test_use_moves_the_end_forward_at_most_once_a_while(chat: Chat) -> None:
    user = await new_user(chat)
    secret = await sessions.begin_session(chat, user)
    sid = sessions.session_id(secret)
    old = utcnow() - timedelta(hours=1)
    await Session.find_one(Session.id == sid).update({"$set": {"last_seen_at": old}})
    await sessions.signed_in(changed(chat, session_touch_seconds=3600 * 2), secret)
    kept = await Session.get(sid)
    assert kept is not None and kept.last_seen_at == old
    await sessions.signed_in(chat, secret)
    touched = await Session.get(sid)
    assert touched is not None and touched.last_seen_at > old
    assert touched.expires_at > utcnow() + timedelta(days=chat.settings.session_lifetime_days - 1)


async def test_ending_all_sessions_but_one(chat: Chat) -> None:
    user = await new_user(chat)
    other_user = await new_user(chat)
    keep, *others = [await sessions.begin_session(chat, user) for _ in range(3)]
    elsewhere = await sessions.begin_session(chat, other_user)
    ended = await sessions.end_sessions(chat, user, keep=sessions.session_id(keep))
    assert ended == 2
    assert (await sessions.signed_in(chat, keep)).user.id == user.id
    for secret in others:
        with pytest.raises(Unauthenticated):
            await sessions.signed_in(chat, secret)
    assert (await sessions.signed_in(chat, elsewhere)).user.id == other_user.id
    assert await sessions.end_sessions(chat, user) == 1


async def test_changing_the_password_ends_the_other_sessions(chat: Chat) -> None:
    user = await new_user(chat)
    mine, theirs = [await sessions.begin_session(chat, user) for _ in range(2)]
    with pytest.raises(Invalid) as wrong:
        await accounts.change_password(chat, user, "wrong horse", "a new horse")
    assert wrong.value.field == "current_password"
    with pytest.raises(Invalid) as short:
        await accounts.change_password(chat, user, "correct horse", "short")
    assert short.value.field == "new_password"
    assert (await sessions.signed_in(chat, theirs)).user.id == user.id  # nothing ended yet
    ended = await accounts.change_password(
        chat, user, "correct horse", "a new horse", keep_session=sessions.session_id(mine)
    )
    assert ended == 1
    assert (await sessions.signed_in(chat, mine)).user.id == user.id
    with pytest.raises(Unauthenticated):
        await sessions.signed_in(chat, theirs)
    assert (await accounts.authenticate(chat, user.username, "a new horse")).id == user.id
