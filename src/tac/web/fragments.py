"""Pieces of pages: history pages for htmx, and the fragments the hub pushes."""

from __future__ import annotations

import json
from typing import Any

import jinja2
from quart import Blueprint, Quart, ResponseReturnValue, render_template, request

from tac.chat import messages, rooms
from tac.chat.errors import Invalid
from tac.chat.events import Event
from tac.chat.presence import RoomPresence
from tac.hub import Render
from tac.models import Message, StoredMessage
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


def message_json(message: Message | StoredMessage) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "room": str(message.room),
        "seq": message.seq,
        "author": str(message.author),
        "author_name": message.author_name,
        "body": "" if message.deleted else message.body,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": message.deleted,
    }


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def make_renderer(app: Quart) -> Render:
    """The hub's renderer: the same partial as the page, wrapped to swap out-of-band."""
    # Quart's environment renders asynchronously; the hub's loop wants a plain call.
    env = jinja2.Environment(loader=app.jinja_env.loader, autoescape=True, auto_reload=False)
    push = env.get_template("partials/message_push.html")
    members = env.get_template("partials/members.html")

    def render(event: Event, payload: Any, fmt: str) -> str:
        if isinstance(payload, RoomPresence):
            if fmt == "json":
                return _json(
                    {"type": event.kind, "room": event.room, "online": sorted(payload.online)}
                )
            return members.render(presence=payload, oob=True)
        if fmt == "json":
            return _json(
                {
                    "type": event.kind,
                    "room": event.room,
                    "seq": event.seq,
                    "message": message_json(payload),
                }
            )
        return push.render(event=event, message=payload)

    return render
