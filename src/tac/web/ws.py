"""The page's one WebSocket: every room of its user, whichever room the page shows.

Frames from the browser are JSON (the htmx ws extension sends the form's fields and a
HEADERS object). The first one names the room on screen and the seq the page holds of it:
{"hello": true, "room": <room id>, "last_seq": N} (`/rooms/<slug>/ws` names the room in
its path). The page then gets what it missed of that room, every sidebar badge as the
database counts it, and live: the open room's messages whole, the others' badges.
Later frames: a post {"body", "client_id", "room"}, a room switch {"open": <room id>,
"last_seq": N} (the panel was swapped: no new socket), {"read": <room id>, "seq": N}
(the page showed the room up to N), {"typing": <room id>}.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, abort, render_template, websocket

from tac.chat import messages, reads, rooms
from tac.chat.errors import ChatError, Invalid, NotFound
from tac.chat.mentions import check_room_mention
from tac.chat.messages import SEQ_MAX
from tac.chat.typing import stopped_typing, user_typing
from tac.hub import Connection, RoomUnread, View
from tac.models import Room, User
from tac.web import chat, hub, settings
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


@bp.websocket("/ws")
async def page_socket() -> None:
    """The page's socket; its hello names the room on screen."""
    await _serve("")


@bp.websocket("/rooms/<slug>/ws")
async def room_socket(slug: str) -> None:
    """The same socket, opened on `slug` unless its hello names another room."""
    await _serve(slug)


async def _serve(slug: str) -> None:
    user = await current_user()
    if user is None:
        abort(401)
    if not same_origin():
        abort(403)
    default_room = None
    if slug:
        try:
            default_room = await rooms.room_by_slug(slug)
        except ChatError:
            abort(404)
    await websocket.accept()
    session = await current_session_id()
    conn = Connection(str(user.id), "html", settings().ws_send_queue_max, session=session)
    joined = await rooms.rooms_of(user)
    # Subscribed to every room of the user first: nothing published after a count is lost.
    async with attached(conn, [str(room.id) for room in joined]):
        if conn.closing.is_set():  # closed (1008): its session just ended
            return
        page = PageSocket(conn, user, joined)
        try:
            first = await page.hello(default_room)
            await run_until_closed(conn, page.read(first))
        finally:
            await page.leave_visited()


class PageSocket:
    """One page's socket after its handshake: the room on screen, and the frames it sends."""

    def __init__(self, conn: Connection, user: User, joined: list[Room]) -> None:
        self.conn = conn
        self.user = user
        self.known: dict[str, Room] = {str(room.id): room for room in joined}
        self.view = View(
            unread={key: RoomUnread(read=0) for key in self.known},
            cap=settings().unread_count_max,
            username=user.username_key,
        )
        self.visiting: str = ""
        """The open room when its user is not a member (counted as a visitor there)."""

    async def hello(self, default_room: Room | None) -> dict[str, Any] | None:
        """Show the room the hello names, send what the page missed of it and every badge.
        Returns the first frame when it was not a hello."""
        hub().show(self.conn, self.view)  # live posts count from here on
        try:
            timeout = settings().ws_hello_timeout_seconds
            frame = parse_frame(await asyncio.wait_for(websocket.receive(), timeout))
        except TimeoutError:
            frame = {}
        first = None if "hello" in frame or "last_seq" in frame else (frame or None)
        named = first is None and "room" in frame  # a post's room is not the one on screen
        room = await self._room(frame["room"]) if named else default_room
        await self._count_unread()
        if room is not None:
            text = await self.open(room, frame.get("last_seq") if first is None else None)
            if text:
                await websocket.send(text)
        hub().badges_now(self.conn)
        return first

    async def _count_unread(self) -> None:
        ids = [room.id for room in self.known.values()]
        fresh = await Room.find({"_id": {"$in": ids}}).to_list()  # read after `show`
        counted = await reads.unread_in(chat(), self.user, fresh)
        for key, unread in counted.items():
            mine = self.view.unread.get(key)
            if mine is not None:
                mine.counted(unread.read_seq, unread.count, unread.top, unread.mentions)
            if unread.muted:
                self.view.muted.add(key)

    async def open(self, room: Room, since: object) -> str:
        """The page shows `room` now: what it missed after `since` (None: nothing, it holds
        the room up to now), as the fragment to send."""
        key = str(room.id)
        self.known[key] = room
        if self.visiting and self.visiting != key:
            await chat().presence.leave(self.visiting, self.conn.user)
            self.visiting = ""
        if not self.view.is_member(key) and self.visiting != key:
            self.visiting = key
            await chat().presence.arrive(key, self.conn.user)
        await hub().open_room(self.conn, key)
        if since is None:
            self.conn.caught_up(key, (await rooms.room_by_id(key)).last_seq)
            return ""
        if type(since) is not int or not 0 <= since <= SEQ_MAX:
            raise BadFrame("`last_seq` must be a whole number from 0.")
        # The client says the seq up to which it holds everything; it gets what follows, and
        # its mark moves only as far as the catch-up leaves no hole that may still fill.
        caught = await messages.missed_since(chat(), room, since)
        self.conn.caught_up(key, caught.mark, caught.sent)
        return await pending_fragment(room, caught)

    async def leave_visited(self) -> None:
        if self.visiting:
            await chat().presence.leave(self.visiting, self.conn.user)
            self.visiting = ""

    async def _room(self, ref: object) -> Room | None:
        """The room a frame names by id; None when there is no such room (deleted, say)."""
        if not isinstance(ref, str):
            raise BadFrame("a room is named by its id, a string")
        if ref in self.known:
            return self.known[ref]
        try:
            return await rooms.room_by_id(ref)
        except ChatError:
            return None

    async def read(self, first: dict[str, Any] | None) -> None:
        if first is not None:
            await self.handle(first)
        while True:
            await self.handle(parse_frame(await websocket.receive()))

    async def handle(self, frame: dict[str, Any]) -> None:
        if "body" in frame:
            room = await self._room(frame["room"]) if "room" in frame else self._open_room()
            if room is not None:
                await _post(self.conn, self.user, room, frame)
            elif (shown := self._open_room()) is not None:  # a room deleted, say
                body = frame["body"] if isinstance(frame["body"], str) else ""
                state = await composer_state(shown, NotFound("No such room."), body)
                self.conn.push(("", 0, state))
                self.conn.flush()
        elif "open" in frame:
            room = await self._room(frame["open"])
            if room is not None:
                text = await self.open(room, frame.get("last_seq"))
                if text:
                    self.conn.push(("", 0, text))
                    self.conn.flush()
        elif "read" in frame:
            room = await self._room(frame["read"])
            if room is not None and self.view.is_member(str(room.id)):
                try:
                    await reads.mark_read(chat(), self.user, room, frame.get("seq"))
                except ChatError as e:  # left meanwhile, or a seq that is no number
                    log.info("read mark of %s refused: %s", room.slug, e.message)
        elif "typing" in frame:
            room = await self._room(frame["typing"])
            if room is not None and self.view.is_member(str(room.id)):
                await user_typing(chat(), self.user, room)

    def _open_room(self) -> Room | None:
        return self.known.get(self.view.open)


async def _post(conn: Connection, user: User, room: Room, frame: dict[str, Any]) -> None:
    body = frame["body"]
    client_id = frame.get("client_id")
    try:
        if not isinstance(body, str):  # not stored as the text "None" or "12345"
            body = ""
            raise Invalid("A message must be text.", field="body")
        await check_room_mention(chat(), room, body)
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
        stopped_typing(chat(), user, room)
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
