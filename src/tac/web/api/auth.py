"""Who is calling the API: a bearer token, or the browser's session with its CSRF token."""

from __future__ import annotations

from quart import g, request

from tac.chat import tokens
from tac.chat.errors import NotAllowed, Unauthenticated
from tac.models import User
from tac.web import chat
from tac.web.auth import csrf_ok, current_user

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_secret(authorization: str) -> str:
    """The token in an `Authorization: Bearer <token>` header."""
    scheme, _, secret = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
    return secret.strip()


async def user_for_bearer(secret: str) -> User:
    return await tokens.user_for_token(chat(), secret)


async def api_user() -> User:
    """The caller, found once per request."""
    if "api_user" not in g:
        g.api_user = await _caller()
    user: User = g.api_user
    return user


async def _caller() -> User:
    """A session (no Authorization header) must send X-CSRF-Token to change things."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        return await user_for_bearer(bearer_secret(authorization))
    user = await current_user()
    if user is None:
        raise Unauthenticated("Send 'Authorization: Bearer <token>' (POST /api/v1/tokens).")
    if request.method not in SAFE_METHODS and not csrf_ok():
        raise NotAllowed("A signed-in browser must send the X-CSRF-Token header to change things.")
    return user
