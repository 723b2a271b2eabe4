"""GET /api/v1/mentions: the messages that mention you, newest first."""

from __future__ import annotations

from quart_schema import validate_querystring, validate_response

from tac.chat.mentions import mentions_of
from tac.web import settings
from tac.web.api import bp, errors
from tac.web.api.auth import api_user
from tac.web.api.schemas import MentionList, MentionOut, MentionsQuery, MessageOut


@bp.get("/mentions")
@validate_querystring(MentionsQuery)
@validate_response(MentionList)
@errors(401, 422)
async def list_mentions(query_args: MentionsQuery) -> MentionList:
    """Messages by others that mention you (`@you`, or `@room`) in rooms you are in."""
    user = await api_user()
    limit = min(query_args.limit or settings().history_page_size, settings().api_page_size_max)
    found = await mentions_of(user, limit)
    return MentionList(
        mentions=[MentionOut(room_slug=room.slug, message=MessageOut.of(m)) for m, room in found]
    )
