"""Pieces of pages that htmx asks for: history pages, who to mention."""

from __future__ import annotations

from quart import Blueprint, ResponseReturnValue, render_template, request

from tac.chat import messages, rooms
from tac.chat.errors import Invalid
from tac.chat.mentions import mentionable
from tac.chat.messages import SEQ_MAX
from tac.web import settings
from tac.web.auth import current_user, login_required

bp = Blueprint("fragments", __name__)


@bp.get("/rooms/<slug>/history")
@login_required
async def history(slug: str) -> ResponseReturnValue:
    """The page of messages before `before`, topped by the trigger for the page before it."""
    room = await rooms.room_by_slug(slug)
    text = request.args.get("before", "")
    # Plain ASCII digits only (int() would take " 1_0 " and other scripts' digits, and
    # refuse 5,000 digits with a ValueError), and no seq MongoDB cannot hold.
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(SEQ_MAX))
    if not digits or not 1 <= int(text) <= SEQ_MAX:
        message = f"`before` must be a whole number. Seqs run from 1 to {SEQ_MAX}."
        raise Invalid(message, field="before")
    before = int(text)
    size = settings().history_page_size
    page = await messages.history_before(room, before, size)
    # The next page ends where this one's range began, not at its first message: a range
    # that is all holes (failed posts) must not ask for itself again, forever.
    first_seq = max(before - size, 1)
    return await render_template(
        "partials/history.html", room=room, messages=page, first_seq=first_seq
    )


@bp.get("/rooms/<slug>/mentionable")
@login_required
async def mention_suggestions(slug: str) -> ResponseReturnValue:
    """After `@` in the composer: the room's members whose username starts with `q`."""
    room = await rooms.room_by_slug(slug)
    prefix = request.args.get("q", "")[:40]
    user = await current_user()
    assert user is not None
    found = await mentionable(user, room, prefix, settings().mention_suggestions_max)
    offer_room = "room".startswith(prefix.lower()) and bool(prefix)
    return await render_template(
        "partials/mention_suggestions.html", people=found, offer_room=offer_room
    )
