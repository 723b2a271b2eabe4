"""The settings page for API tokens: create one (shown once), see yours, revoke one.

Plain POST forms, so it works before any JavaScript runs; the same use cases as the API.
"""

from __future__ import annotations

from quart import Blueprint, ResponseReturnValue, redirect, render_template, request, url_for

from tac.chat import rooms, tokens
from tac.chat.errors import ChatError
from tac.models import User
from tac.web import chat
from tac.web.auth import current_user, login_required

bp = Blueprint("token_page", __name__)


async def _me() -> User:
    user = await current_user()
    assert user is not None  # login_required ran first
    return user


async def render_tokens(
    *, secret: str = "", error: ChatError | None = None, status: int = 200
) -> ResponseReturnValue:
    user = await _me()
    html = await render_template(
        "pages/tokens.html",
        tokens=await tokens.tokens_of(user),
        my_rooms=await rooms.rooms_of(user),
        secret=secret,
        error=error,
    )
    return html, status


@bp.get("/settings/tokens")
@login_required
async def token_settings() -> ResponseReturnValue:
    return await render_tokens()


@bp.post("/settings/tokens")
@login_required
async def create_token() -> ResponseReturnValue:
    """Rendered, not redirected: the new token must appear once and never in a URL."""
    name = (await request.form).get("name", "")
    try:
        _, secret = await tokens.issue_token(chat(), await _me(), name)
    except ChatError as e:
        return await render_tokens(error=e, status=422 if e.code == "invalid" else 409)
    return await render_tokens(secret=secret, status=201)


@bp.post("/settings/tokens/<token_id>/revoke")
@login_required
async def revoke_token(token_id: str) -> ResponseReturnValue:
    await tokens.revoke_token(await _me(), token_id, chat=chat())
    return redirect(url_for("token_page.token_settings"))
