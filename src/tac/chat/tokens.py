"""API tokens: issued for a password, stored only as a hash, listed and revoked by their owner."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from beanie import PydanticObjectId

from tac.chat import Chat
from tac.chat.accounts import user_by_id
from tac.chat.errors import Conflict, Invalid, NotFound, Unauthenticated
from tac.chat.sessions import SignedIn
from tac.chat.text import one_line
from tac.events import session_ended
from tac.models import ApiToken, User
from tac.models.user import utcnow

TOKEN_PREFIX = "tac_"
SHOWN_CHARS = 12
"""How much of a token is kept in clear, to tell tokens apart in a list."""


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_token(chat: Chat, owner: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `owner`; the secret is returned once and never stored."""
    name = one_line(name, "name") or "API token"
    limit = chat.settings.api_token_name_max_chars
    if len(name) > limit:
        raise Invalid(f"A token's name may have at most {limit} characters.", field="name")
    held = await ApiToken.find(ApiToken.owner == owner.id).count()
    if held >= chat.settings.api_tokens_per_user_max:
        raise Conflict(f"You hold {held} tokens, the most allowed: revoke one first.", field="name")
    assert owner.id is not None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        owner=owner.id, name=name, hash=token_hash(secret), prefix=secret[:SHOWN_CHARS]
    )
    await token.insert()
    return token, secret


def stream_session(token_id: object) -> str:
    """What the sockets opened with a token are tagged with: revoking it closes them."""
    return f"token:{token_id}"


async def signed_in_by_token(chat: Chat, secret: str) -> SignedIn:
    """The owner of a presented token, and the token's session tag for sockets; notes when
    the token was last used, at most once a while."""
    token = await ApiToken.find_one(ApiToken.hash == token_hash(secret))
    if token is None:
        raise Unauthenticated("Unknown or revoked token.")
    now = utcnow()
    every = timedelta(seconds=chat.settings.api_token_touch_seconds)
    if token.last_used_at is None or now - token.last_used_at >= every:
        await ApiToken.find_one(ApiToken.id == token.id).update({"$set": {"last_used_at": now}})
    try:
        return SignedIn(await user_by_id(token.owner), stream_session(token.id))
    except NotFound:
        raise Unauthenticated("Unknown or revoked token.") from None


async def user_for_token(chat: Chat, secret: str) -> User:
    """The owner of a presented token."""
    return (await signed_in_by_token(chat, secret)).user


async def tokens_of(owner: User) -> list[ApiToken]:
    """The owner's tokens, oldest first."""
    return await ApiToken.find(ApiToken.owner == owner.id).sort("_id").to_list()


async def revoke_token(owner: User, token_id: str, *, chat: Chat | None = None) -> None:
    """Delete one of the owner's tokens. Another person's token is 'not found', not 'forbidden'.

    Given `chat`, the token's open event streams are closed on every instance too.
    """
    try:
        oid = PydanticObjectId(token_id)
    except Exception:
        raise NotFound("No such token.") from None
    result = await ApiToken.find({"_id": oid, "owner": owner.id}).delete()  # no $and
    if result is None or result.deleted_count == 0:
        raise NotFound("No such token.")
    if chat is not None:
        await chat.bus.publish(session_ended(str(owner.id), stream_session(oid)))
