"""What the API accepts and returns: pydantic models at the edge, Beanie documents inside."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from tac.chat.messages import SEQ_MAX
from tac.chat.reads import Unread
from tac.models import ApiToken, Message, Room, User
from tac.web.api.serialize import message_json


def _to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


Timestamp = Annotated[datetime, AfterValidator(_to_millis)]
"""As MongoDB keeps it: a new document answers with the time a later read will show."""


class Request(BaseModel):
    """A JSON body a client sends: a field the API does not know is refused (422), not
    ignored, so a typo or a field the server sets itself (a seq, an author) is told."""

    model_config = ConfigDict(extra="forbid")


def _absent(schema: dict[str, Any]) -> None:
    """An optional query parameter: absent, never null, so the document shows no default."""
    schema.pop("default", None)


# -- errors -------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str
    """Machine-readable: invalid, not_found, forbidden, conflict, rate_limited, ..."""
    message: str
    """For people: what went wrong and, where it helps, what to do."""


class ErrorOut(BaseModel):
    """Every error under /api/ has this shape."""

    error: ErrorDetail


# -- tokens -------------------------------------------------------------------------------
class TokenCreate(Request):
    username: str
    password: str
    name: str = ""
    """What the token is for (a bot's name, a script): shown in the token list."""


class TokenOut(BaseModel):
    """An API token as its owner sees it: never the secret."""

    id: str
    name: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=str(token.id),
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
        )


class TokenCreated(TokenOut):
    """A new token. `token` is shown this once: send it as `Authorization: Bearer <token>`."""

    token: str


class TokenList(BaseModel):
    tokens: list[TokenOut]


# -- users --------------------------------------------------------------------------------
class UserCreate(Request):
    username: str
    password: str
    display_name: str = ""


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class UserOut(BaseModel):
    """A person, as others see them."""

    id: str
    username: str
    display_name: str
    created_at: Timestamp

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=str(user.id),
            username=user.username,
            display_name=user.display_name,
            created_at=user.created_at,
        )


class MemberOut(UserOut):
    """A member of a room; `online` says whether they have a live socket or stream now."""

    online: bool

    @classmethod
    def of_member(cls, user: User, *, online: bool) -> MemberOut:
        return cls(**UserOut.of(user).model_dump(), online=online)


class MemberList(BaseModel):
    members: list[MemberOut]


# -- rooms --------------------------------------------------------------------------------
class RoomCreate(Request):
    title: str
    topic: str = ""


class RoomOut(BaseModel):
    """A room. `joined` says whether the caller is a member; `last_seq` is its newest message."""

    id: str
    slug: str
    title: str
    topic: str
    created_at: Timestamp
    last_seq: int
    joined: bool
    unread: int = 0
    """Messages by others since you last read the room (capped at TAC_UNREAD_COUNT_MAX);
    0 in rooms you are not in."""
    mentions: int = 0
    """Of those, the ones that mention you (`@you` or `@room`)."""
    last_read_seq: int | None = None
    """Your read marker: the seq up to which you have read the room (null if not joined)."""

    @classmethod
    def of(cls, room: Room, *, joined: bool, unread: Unread | None = None) -> RoomOut:
        return cls(
            id=str(room.id),
            slug=room.slug,
            title=room.title,
            topic=room.topic,
            created_at=room.created_at,
            last_seq=room.last_seq,
            joined=joined,
            unread=unread.count if unread else 0,
            mentions=unread.mentions if unread else 0,
            last_read_seq=unread.read_seq if unread else (room.last_seq if joined else None),
        )


class RoomList(BaseModel):
    rooms: list[RoomOut]


class ReadMark(Request):
    seq: int = Field(ge=0, le=SEQ_MAX, strict=True)
    """You have read the room up to this seq (the marker never moves back, nor past the
    room's newest message)."""


class MentionsQuery(BaseModel):
    limit: int | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_absent, ge=1, le=SEQ_MAX
    )
    """How many; at most the server's TAC_API_PAGE_SIZE_MAX (larger asks are capped)."""


class RoomsQuery(BaseModel):
    joined: bool | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_absent)
    """true: only the rooms you are in; false: only the others; absent: every room."""


# -- messages -----------------------------------------------------------------------------
class MessageCreate(Request):
    body: str
    client_id: str | SkipJsonSchema[None] = Field(
        default=None,
        json_schema_extra=_absent,
        description="Your id for this post (1-64 of A-Z a-z 0-9 _ -): posting again with the "
        "same id returns the message stored the first time instead of a second one.",
    )


class MessageOut(BaseModel):
    """A message; the same fields as the `message` of a stream event."""

    id: str
    room: str
    seq: int
    author: str
    author_name: str
    body: str
    created_at: Timestamp
    edited_at: Timestamp | None
    deleted: bool
    client_id: str | None
    """The poster's own id for the post, if it gave one."""
    mentions: list[str]
    """Who the body mentions: usernames in lower case, and "room" for `@room`."""

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        # The stream's events carry message_json: one shape for both, by construction.
        return cls.model_validate(message_json(message))


class MessagePage(BaseModel):
    """Messages, oldest first. Page back: `before` = first seq; page on: `after` = last seq."""

    messages: list[MessageOut]
    last_seq: int
    """The room's newest seq when the page was read."""


class HistoryQuery(BaseModel):
    before: int | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_absent, ge=1, le=SEQ_MAX
    )
    """Messages with seq below this (paging back)."""
    after: int | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_absent, ge=0, le=SEQ_MAX
    )
    """Messages with seq above this (paging forward). Neither: the newest page."""
    limit: int | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_absent, ge=1, le=SEQ_MAX
    )
    """Page size; at most the server's TAC_API_PAGE_SIZE_MAX (larger asks are capped)."""


# -- mentions -------------------------------------------------------------------------------
class MentionOut(BaseModel):
    """A message that mentions you, and the room it is in."""

    room_slug: str
    message: MessageOut


class MentionList(BaseModel):
    """Newest first."""

    mentions: list[MentionOut]
