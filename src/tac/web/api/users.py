"""Accounts: register (when the setting allows), yourself, and others by username."""

from __future__ import annotations

from quart import request
from quart_schema import validate_request, validate_response

from tac.chat import accounts
from tac.chat.errors import NotAllowed
from tac.web import chat, settings
from tac.web.api import bp, errors, no_content, open_route
from tac.web.api.auth import api_user
from tac.web.api.schemas import PasswordChange, UserCreate, UserOut
from tac.web.auth import client_address, current_session_id


@bp.post("/users")
@open_route
@validate_request(UserCreate)
@validate_response(UserOut, 201)
@errors(400, 403, 409, 422)
async def register(data: UserCreate) -> tuple[UserOut, int]:
    """Create an account, in #general like every new person. Then get a token.

    Answers 403 when this server has turned registration over the API off.
    """
    if not settings().api_registration_open:
        raise NotAllowed("Registration over the API is closed on this server.")
    user = await accounts.sign_up(chat(), data.username, data.password, data.display_name)
    return UserOut.of(user), 201


@bp.get("/users/me")
@validate_response(UserOut)
@errors(401)
async def me() -> UserOut:
    """Who the token (or session) belongs to."""
    return UserOut.of(await api_user())


@bp.post("/users/me/password")
@no_content
@validate_request(PasswordChange)
@errors(400, 401, 403, 422, 429)
async def change_password(data: PasswordChange) -> tuple[str, int]:
    """Change your password, given the current one (422 when it is wrong).

    Every signed-in browser session ends, except the one calling when called with the
    session cookie. API tokens keep working: revoke them with DELETE /api/v1/tokens/{id}.
    """
    user = await api_user()
    keep = "" if request.headers.get("Authorization") else await current_session_id()
    await accounts.change_password(
        chat(),
        user,
        data.current_password,
        data.new_password,
        keep_session=keep,
        address=client_address(),
    )
    return "", 204


@bp.get("/users/<username>")
@validate_response(UserOut)
@errors(401, 404)
async def user_profile(username: str) -> UserOut:
    """Someone's profile, by username (any case)."""
    await api_user()
    return UserOut.of(await accounts.user_by_username(username))
