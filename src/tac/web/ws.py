"""The room's WebSocket: catch-up on (re)connect, then live fragments; the composer's posts.

Frames from the browser are JSON (the htmx ws extension sends the form's fields and a
HEADERS object). The first one says which seq the page holds: {"hello": true, "last_seq": N}.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, abort, render_template, websocket

from tac.chat import messages, rooms, sessions
from tac.chat.errors import ChatError
from tac.chat.messages import SEQ_MAX
from tac.hub import Connection
from tac.models import Room, User
from tac.web import chat, settings
from tac.web.auth import current_session_id, current_user
from tac.web.live import BadFrame, attached, run_until_closed

bp = Blueprint("ws", __name__)
log = logging.getLogger(__name__)


def same_origin() -> bool:
    """Browsers send Origin on WebSockets; a page of another site must not ride our cookie."""
    origin = websocket.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("Host")


def parse_frame(data: str | bytes) -> dict[str, Any]:
    try:
        frame = json.loads(data)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


async def pending_fragment(room: Room, caught: messages.CatchUp) -> str:
    """What the client missed, and the mark it now holds the room up to."""
    return await render_template(
        "partials/messages_push.html", room=room, messages=caught.messages, mark=caught.mark
    )


async def composer_state(room: Room, error: ChatError | None, draft: str = "") -> str:
    return await render_template(
        "partials/composer_state.html", room=room, error=error, draft=draft
    )


@bp.websocket("/rooms/<slug>/ws")
async def room_socket(slug: str) -> None:
    user = await current_user()
    if user is None:
        abort(401)
    if not same_origin():
        abort(403)
    try:
        room = await rooms.room_by_slug(slug)
    except ChatError:
        abort(404)
    await websocket.accept()
    session = await current_session_id()
    conn = Connection(str(user.id), "html", settings().ws_send_queue_max, session=session)
    async with attached(conn, [str(room.id)]):
        if not await sessions.is_live(session):  # ended while this socket was opening
            conn.close(1008)
            return
        first = await _hello(conn, room)
        await run_until_closed(conn, _read(conn, user, room, first))


async def _hello(conn: Connection, room: Room) -> dict[str, Any] | None:
    """Send what the client missed. Returns the first frame when it was not a hello."""
    try:
        timeout = settings().ws_hello_timeout_seconds
        frame = parse_frame(await asyncio.wait_for(websocket.receive(), timeout))
    except TimeoutError:
        frame = {}
    if "last_seq" not in frame:
        conn.caught_up(str(room.id), (await rooms.room_by_id(str(room.id))).last_seq)
        return frame or None
    since = frame["last_seq"]
    if type(since) is not int or not 0 <= since <= SEQ_MAX:
        raise BadFrame("`last_seq` must be a whole number from 0.")
    # The client says the seq up to which it holds everything; it gets what follows, and
    # its mark moves only as far as the catch-up leaves no hole that may still fill.
    caught = await messages.missed_since(chat(), room, since)
    conn.caught_up(str(room.id), caught.mark, caught.sent)
    await websocket.send(await pending_fragment(room, caught))
    return None


async def _read(conn: Connection, user: User, room: Room, first: dict[str, Any] | None) -> None:
    if first is not None:
        await _handle(conn, user, room, first)
    while True:
        await _handle(conn, user, room, parse_frame(await websocket.receive()))


async def _handle(conn: Connection, user: User, room: Room, frame: dict[str, Any]) -> None:
    if "body" not in frame:
        return
    body = str(frame.get("body", ""))
    try:
        await messages.post_message(chat(), user, room, body)
    except ChatError as e:
        state = await composer_state(room, e, body)
    except Exception:  # MongoDB away, say: the draft stays, the socket too
        log.exception("posting to %s failed", room.slug)
        unsent = ChatError("Not sent: the server could not store it. Try again.")
        state = await composer_state(room, unsent, body)
    else:
        state = await composer_state(room, None)
    conn.push(("", 0, state))
    conn.flush()
