"""Messages of a room: post one, read history by seq (`before` to page back, `after` on)."""

from __future__ import annotations

from quart_schema import validate_querystring, validate_request, validate_response

from tac.chat import messages, rooms
from tac.chat.errors import Invalid
from tac.chat.mentions import check_room_mention
from tac.web import chat, settings
from tac.web.api import bp, errors
from tac.web.api.auth import api_user
from tac.web.api.schemas import HistoryQuery, MessageCreate, MessageOut, MessagePage


@bp.get("/rooms/<slug>/messages")
@validate_querystring(HistoryQuery)
@validate_response(MessagePage)
@errors(401, 403, 404, 422)
async def list_messages(slug: str, query_args: HistoryQuery) -> MessagePage:
    """A page of a room's messages, oldest first: the newest, or `before` / `after` a seq.

    `limit` defaults to the page size of the web UI and is capped by TAC_API_PAGE_SIZE_MAX.
    """
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    await rooms.require_member(user, room)
    s = settings()
    limit = min(query_args.limit or s.history_page_size, s.api_page_size_max)
    if query_args.before is not None and query_args.after is not None:
        raise Invalid("Give `before` or `after`, not both.", field="before")
    if query_args.before is not None:
        page = await messages.history_before(room, query_args.before, limit)
    elif query_args.after is not None:
        page = await messages.history_after(room, query_args.after, limit)
    else:
        page = await messages.latest(room, limit)
    return MessagePage(messages=[MessageOut.of(m) for m in page], last_seq=room.last_seq)


@bp.post("/rooms/<slug>/messages")
@validate_request(MessageCreate)
@validate_response(MessageOut, 201)
@errors(400, 401, 403, 404, 422, 429)
async def post_message(slug: str, data: MessageCreate) -> tuple[MessageOut, int]:
    """Post a message to a room you are in. It is stored before anyone is told of it."""
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    await check_room_mention(chat(), room, data.body)
    message = await messages.post_message(chat(), user, room, data.body, data.client_id)
    return MessageOut.of(message), 201
