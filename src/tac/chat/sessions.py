"""Sign-in sessions: begun at sign-in, read on every request and socket handshake, ended
at sign-out (one, or all of a person's), and by a password change (all but the current).

The browser's cookie holds a random secret; MongoDB holds only its SHA-256, which is also
the session's id on the bus and on sockets. Ending a session deletes its document (every
later request and handshake is refused) and publishes `session_ended`, so every instance
closes the session's open sockets.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from beanie import PydanticObjectId

from tac.chat import Chat
from tac.chat.errors import Unauthenticated
from tac.events import session_ended
from tac.models import Session, User
from tac.models.user import utcnow

USER_AGENT_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session belongs to, and the session's id (what its sockets are tagged with)."""

    user: User
    session: str


def session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _lifetime(chat: Chat) -> timedelta:
    return timedelta(days=chat.settings.session_lifetime_days)


async def begin_session(chat: Chat, user: User, *, user_agent: str = "", address: str = "") -> str:
    """A new session for `user`; returns the secret for the cookie (never stored)."""
    assert user.id is not None
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    await Session(
        id=session_id(secret),
        user=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + _lifetime(chat),
        user_agent=user_agent[:USER_AGENT_MAX_CHARS],
        address=address,
    ).insert()
    return secret


async def signed_in(chat: Chat, secret: str) -> SignedIn:
    """The live session of a cookie's secret: one read by id, and its user's.

    Nothing is cached between requests, so a session ended on any instance is refused
    by every instance from then on. Use is noted at most once per session_touch_seconds.
    """
    if not secret:
        raise Unauthenticated("Not signed in.")
    sid = session_id(secret)
    session = await Session.get(sid)
    now = utcnow()
    if session is None or session.expires_at <= now:
        if session is not None:
            await Session.find_one(Session.id == sid).delete()
        raise Unauthenticated("Your session has ended: sign in again.")
    if now - session.last_seen_at >= timedelta(seconds=chat.settings.session_touch_seconds):
        await Session.find_one(Session.id == sid).update(
            {"$set": {"last_seen_at": now, "expires_at": now + _lifetime(chat)}}
        )
    user = await User.get(session.user)
    if user is None:
        raise Unauthenticated("Your session has ended: sign in again.")
    return SignedIn(user, sid)


async def end_session(chat: Chat, secret: str) -> None:
    """Sign-out: this session is over here and on every instance, with its open sockets."""
    if not secret:
        return
    sid = session_id(secret)
    session = await Session.get(sid)
    if session is None:
        return
    await Session.find_one(Session.id == sid).delete()
    await chat.bus.publish(session_ended(str(session.user), sid))


async def end_sessions(chat: Chat, user: User, *, keep: str = "") -> int:
    """End every session of `user` but the one with id `keep` ("": end them all).

    Returns how many ended. Each ended session's sockets are closed on every instance; the
    user's API-token streams are not sessions and stay open.
    """
    assert user.id is not None
    owner: PydanticObjectId = user.id
    ended = [s.id for s in await Session.find(Session.user == owner).to_list() if s.id != keep]
    if ended:
        await Session.find({"_id": {"$in": ended}}).delete()
    for sid in ended:
        await chat.bus.publish(session_ended(str(owner), sid))
    return len(ended)
