"""Pieces of pages that htmx asks for: history pages."""

from __future__ import annotations

from quart import Blueprint, ResponseReturnValue, render_template, request

from tac.chat import messages, rooms
from tac.chat.errors import Invalid
from tac.web import settings
from tac.web.auth import login_required

bp = Blueprint("fragments", __name__)


@bp.get("/rooms/<slug>/history")
@login_required
async def history(slug: str) -> ResponseReturnValue:
    """The page of messages before `before`, topped by the trigger for the page before it."""
    room = await rooms.room_by_slug(slug)
    try:
        before = int(request.args.get("before", ""))
    except ValueError:
        raise Invalid("`before` must be a whole number.", field="before") from None
    page = await messages.history_before(room, before, settings().history_page_size)
    first_seq = page[0].seq if page else before
    return await render_template(
        "partials/history.html", room=room, messages=page, first_seq=first_seq
    )
