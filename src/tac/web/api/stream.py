"""GET /api/v1/stream: a WebSocket of JSON events for every room of the token's user.

Connect with `Authorization: Bearer <token>`, or where headers cannot be set (a browser's
WebSocket) with the subprotocols `tac.bearer, <token>` (`new WebSocket(url, ["tac.bearer",
token])`; the server accepts `tac.bearer`). `?token=<token>` still works as a last resort, but
proxies log URLs: prefer the other two. To resume, add `?since=<slug>:<seq>,<slug>:<seq>`,
each seq the one up to which the client holds *every* message of the room (not the highest
it saw: after a crash of an instance a client can hold messages above a hole, and the hole is
filled only if `since` is below it).
The server sends
1. one `{"type": "stream.ready", "rooms": [{"id", "slug", "last_seq"}]}` event,
2. what each room in `since` missed after that seq (from MongoDB),
3. then live events, each exactly once: `{"type": "message.posted", "room": <room id>,
   "seq": N, "message": {...}}` (the message as in GET .../messages), and
   `{"type": "presence", "room": <room id>, "online": [<user id>, ...]}` when who is online
   changes (presence has no seq and is not replayed); besides, `{"type": "mention", "room",
   "seq", "message"}` after the message.posted of a message that mentions you (`@you` or
   `@room`), `{"type": "room.read", "room", "seq"}` when you read a room up to seq (here or
   on another device), and `{"type": "typing", "room", "user", "name"}` when someone starts
   typing there (show it for a few seconds; it is never stored or replayed).
A frame holds one or more events, one JSON object per line. Rooms joined after connecting
are streamed after the next reconnect. What the client sends is ignored.
"""

from __future__ import annotations

import json

from quart import websocket

from tac.chat import messages, rooms, tokens
from tac.chat.errors import Invalid
from tac.chat.messages import SEQ_MAX
from tac.chat.sessions import SignedIn
from tac.hub import Connection
from tac.models import Room
from tac.web import chat, hub, settings
from tac.web.api import bp
from tac.web.api.auth import bearer_secret
from tac.web.api.serialize import posted_event
from tac.web.socket_lifetime import attached, run_until_closed


def parse_since(text: str) -> dict[str, int]:
    """`slug:seq,slug:seq` as {slug: seq}."""
    since: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        slug, colon, seq = part.rpartition(":")
        if not (colon and slug and seq.isascii() and seq.isdigit()) or int(seq) > SEQ_MAX:
            raise Invalid("`since` is `<slug>:<seq>,<slug>:<seq>` with whole numbers.")
        since[slug] = int(seq)
    return since


BEARER_PROTOCOL = "tac.bearer"
"""Offered with the token as the next subprotocol: a browser's way to send a token that no
proxy logs (it cannot set Authorization on a WebSocket)."""


def stream_secret() -> tuple[str, str | None]:
    """The token, and the subprotocol to accept (the one that carried it, if one did)."""
    authorization = websocket.headers.get("Authorization")
    if authorization is not None:
        return bearer_secret(authorization), None
    offered = websocket.requested_subprotocols
    if BEARER_PROTOCOL in offered:
        after = offered[offered.index(BEARER_PROTOCOL) + 1 :]
        return bearer_secret("Bearer " + (after[0] if after else "")), BEARER_PROTOCOL
    # The documented fallback; the shipped nginx configs log paths without their query.
    return bearer_secret("Bearer " + websocket.args.get("token", "")), None


async def stream_caller() -> tuple[SignedIn, str | None]:
    secret, subprotocol = stream_secret()
    return await tokens.signed_in_by_token(chat(), secret), subprotocol


@bp.websocket("/stream")
async def stream() -> None:
    """Refused before the handshake completes: 401 without a valid token, 422 for bad since."""
    caller, subprotocol = await stream_caller()
    user = caller.user
    since = parse_since(websocket.args.get("since", ""))
    await websocket.accept(subprotocol=subprotocol)
    conn = Connection(
        str(user.id), "json", settings().ws_send_queue_max, session=caller.session, member_only=True
    )
    joined = await rooms.rooms_of(user)
    hub().names[conn] = user.username_key  # a mention of its user is an event of its own
    async with attached(conn, [str(room.id) for room in joined]):
        await _catch_up(conn, joined, since)
        await run_until_closed(conn, _drain())


async def _catch_up(conn: Connection, joined: list[Room], since: dict[str, int]) -> None:
    """Send the ready event, then what each room missed; mark it so live copies are dropped."""
    fresh = [await rooms.room_by_id(str(room.id)) for room in joined]
    ready = [{"id": str(r.id), "slug": r.slug, "last_seq": r.last_seq} for r in fresh]
    await websocket.send(json.dumps({"type": "stream.ready", "rooms": ready}))
    batch = settings().api_stream_catchup_batch
    for room in fresh:
        if room.slug not in since:
            conn.caught_up(str(room.id), room.last_seq)
            continue
        caught = await messages.missed_since(chat(), room, since[room.slug])
        conn.caught_up(str(room.id), caught.mark, caught.sent)
        missed = caught.messages
        for start in range(0, len(missed), batch):
            await websocket.send("\n".join(posted_event(m) for m in missed[start : start + batch]))


async def _drain() -> None:
    """Read (and ignore) what the client sends, so a close is noticed."""
    while True:
        await websocket.receive()
