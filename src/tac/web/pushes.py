"""What the hub pushes to sockets: each event rendered once per format.

Browsers get HTML fragments (the same partials as the page, wrapped to swap out-of-band);
the API's stream gets JSON events (web/api/serialize.py).
"""

from __future__ import annotations

from typing import Any

import jinja2
from quart import Quart

from tac.chat.presence import RoomPresence
from tac.events import Event
from tac.hub import Render
from tac.web.api.serialize import posted_event, presence_event


def make_renderer(app: Quart) -> Render:
    """The hub's renderer. Quart's Jinja environment renders asynchronously; the hub's loop
    wants a plain call, so the same templates are loaded into a synchronous environment."""
    env = jinja2.Environment(loader=app.jinja_env.loader, autoescape=True, auto_reload=False)
    push = env.get_template("partials/message_push.html")
    members = env.get_template("partials/members.html")

    def render(event: Event, payload: Any, fmt: str) -> str:
        if isinstance(payload, RoomPresence):
            if fmt == "json":
                return presence_event(event.room, payload.online)
            return members.render(presence=payload, oob=True)
        if fmt == "json":
            return posted_event(payload)
        return push.render(event=event, message=payload)

    return render
