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

from tac.chat import messages, rooms
from tac.chat.errors import ChatError, Invalid
from tac.chat.messages import SEQ_MAX
from tac.hub import Connection
from tac.models import Room, User
from tac.web import chat, settings
from tac.web.auth import current_session_id, current_user
from tac.web.socket_lifetime import BadFrame, attached, run_until_closed

bp = Blueprint("ws", __name__)
log = logging.getLogger(__name__)


def same_origin() -> bool:
    """Browsers send Origin on WebSockets; a page of another site must not ride our cookie.

    The whole origin counts (scheme, host, port): an https page is not the http site. The
    allowed ones are TAC_ALLOWED_ORIGINS, or else the request's own (its scheme is the
    proxy's X-Forwarded-Proto only when TAC_TRUSTED_PROXY_HOPS trusts the proxy).
    """
    origin = websocket.headers.get("Origin")
    if origin is None:  # not a browser: it has no cookie of ours to ride
        return True
    allowed = settings().allowed_origins or [own_origin()]
    given = normal_origin(origin)
    return bool(given) and given in {normal_origin(a) for a in allowed}


def own_origin() -> str:
    scheme = {"ws": "http", "wss": "https"}.get(websocket.scheme, websocket.scheme)
    return f"{scheme}://{websocket.headers.get('Host', '')}"


DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_origin(origin: str) -> str:
    """`scheme://host:port` in lower case with the port spelled out; '' when not an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname or port is None:
        return ""
    host = parts.hostname.lower()
    return f"{parts.scheme.lower()}://{f'[{host}]' if ':' in host else host}:{port}"


def parse_frame(data: str | bytes) -> dict[str, Any]:
    """A frame as the page sends it: a JSON object in a text frame. Anything else (binary,
    not JSON, NaN or Infinity, nested past the parser's depth, not an object) is a frame no
    valid client sends: BadFrame, and the socket is closed with 1007."""
    if not isinstance(data, str):
        raise BadFrame("a binary frame")
    try:
        frame = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadFrame("a frame that is not JSON (or is nested too deeply)") from None
    if not isinstance(frame, dict):
        raise BadFrame("a frame that is not a JSON object")
    return frame


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def pending_fragment(room: Room, caught: messages.CatchUp) -> str:
    """What the client missed, and the mark it now holds the room up to."""
    return await render_template(
        "partials/messages_push.html", room=room, messages=caught.messages, mark=caught.mark
    )


async def composer_state(
    room: Room,
    error: ChatError | None,
    draft: str = "",
    client_id: object = None,
    seq: int | None = None,
) -> str:
    """The answer to a post: its error and the draft back, or the acknowledgment naming the
    post's client id and seq (so a client knows which of its posts were stored)."""
    # A refused draft may hold a lone surrogate, which no frame can carry: it comes back
    # with U+FFFD in its place.
    draft = draft.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return await render_template(
        "partials/composer_state.html",
        room=room,
        error=error,
        draft=draft,
        client_id=client_id if isinstance(client_id, str) else None,
        seq=seq,
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
    async with attached(conn, [str(room.id)]):  # closed (1008) if its session just ended
        if conn.closing.is_set():
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
    body = frame["body"]
    client_id = frame.get("client_id")
    try:
        if not isinstance(body, str):  # not stored as the text "None" or "12345"
            body = ""
            raise Invalid("A message must be text.", field="body")
        message = await messages.post_message(
            chat(),
            user,
            room,
            body,
            client_id,
            retry=frame.get("retry") is True,
            known_member=str(room.id) in conn.member_of,
        )
        conn.member_of.add(str(room.id))  # checked by this post: the next needs no read
    except ChatError as e:
        state = await composer_state(room, e, body, client_id)
    except Exception:  # MongoDB away, say: the draft stays, the socket too
        log.exception("posting to %s failed", room.slug)
        unsent = ChatError("Not sent: the server could not store it. Try again.")
        state = await composer_state(room, unsent, body, client_id)
    else:
        state = await composer_state(room, None, client_id=client_id, seq=message.seq)
    conn.push(("", 0, state))
    conn.flush()
