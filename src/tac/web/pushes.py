"""What the hub pushes to sockets: each event rendered once per format.

Browsers get HTML fragments (the same partials as the page, wrapped to swap out-of-band);
the API's stream gets JSON events (web/api/serialize.py).
"""

from __future__ import annotations

from typing import Any

import jinja2
from quart import Quart

from tac.chat.presence import RoomPresence
from tac.events import JOINED, LEFT, MENTION, ROOM_READ, TYPING, UNREAD, Event
from tac.hub import Badge, Render, Typing
from tac.web.api.serialize import (
    mention_event,
    posted_event,
    presence_event,
    read_event,
    typing_event,
)
from tac.web.markup import FILTERS


def make_renderer(app: Quart) -> Render:
    """The hub's renderer. Quart's Jinja environment renders asynchronously; the hub's loop
    wants a plain call, so the same templates are loaded into a synchronous environment."""
    env = jinja2.Environment(loader=app.jinja_env.loader, autoescape=True, auto_reload=False)
    env.globals["tac_settings"] = app.extensions["tac.settings"]
    env.filters.update(FILTERS)
    push = env.get_template("partials/message_push.html")
    members = env.get_template("partials/members.html")
    badge = env.get_template("partials/unread_badge.html")
    typing = env.get_template("partials/typing.html")
    sidebar = env.get_template("partials/sidebar_push.html")

    def render(event: Event, payload: Any, fmt: str) -> str:
        if isinstance(payload, RoomPresence):
            if fmt == "json":
                return presence_event(event.room, payload.online)
            return members.render(presence=payload, oob=True)
        if event.kind == UNREAD and isinstance(payload, Badge):
            return badge.render(
                badge_room=payload.room,
                badge_count=payload.count,
                badge_mentions=payload.mentions,
                badge_muted=payload.muted,
                oob=True,
            )
        if event.kind == TYPING:
            if fmt == "json":
                return typing_event(event.room, event.user, event.name)
            names = payload.names if isinstance(payload, Typing) else ()
            return typing.render(typing_room=event.room, names=names, oob=True)
        if event.kind == MENTION:
            return mention_event(payload)
        if event.kind == ROOM_READ:
            return read_event(event.about, event.seq)
        if event.kind == JOINED:
            room = {"id": event.about, "slug": event.name}
            return sidebar.render(joined=True, r=room, live=True, unread_of=None)
        if event.kind == LEFT:
            return sidebar.render(joined=False, room=event.room)
        if fmt == "json":
            return posted_event(payload)
        return push.render(event=event, message=payload)

    return render
