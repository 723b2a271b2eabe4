"""A message: one record that is stored, carried on the bus, rendered and serialized.

`Message` is the truth. It converts itself to and from what MongoDB stores (`to_bson`,
`from_bson`) and what the bus carries (`to_bus`, `from_bus`); the HTML is the partial
`templates/partials/message.html` and the API's JSON is `web/api/serialize.py`. All four
conversions follow the dataclass's fields, so a new field is one change here (plus the
API's documented schema, which a test keeps in step).

It is a plain dataclass, not a Beanie document: building a Beanie (pydantic) document
costs more than reading it (ops/bench/history.py). `MessageCollection` only tells Beanie
the collection's name and indexes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, get_type_hints

from beanie import Document
from bson import ObjectId
from pymongo import ASCENDING, IndexModel

from tac.models.user import utcnow


@dataclass(frozen=True, slots=True)
class Message:
    room: ObjectId
    seq: int
    author: ObjectId
    author_name: str
    """The author's display name when posted, so rendering needs no second query."""
    body: str
    id: ObjectId = field(default_factory=ObjectId)
    """Made by the poster, so storing it is one insert with nothing to read back."""
    created_at: datetime = field(default_factory=utcnow)
    edited_at: datetime | None = None
    deleted: bool = False
    client_id: str | None = None
    """The id the poster's client gave the post: a retried post with the same id is stored
    once, and the acknowledgment names it."""
    mentions: tuple[str, ...] | None = None
    """Who the body mentions: `@username`s folded to lower case, and "room" for `@room`.
    Found in the body when the record is made (None), stored, so they can be counted."""

    def __post_init__(self) -> None:
        found = mentions_in(self.body) if self.mentions is None else tuple(self.mentions)
        object.__setattr__(self, "mentions", found)

    def to_bson(self) -> dict[str, Any]:
        """As stored: a tuple as the array BSON makes of it (what a read gives back)."""
        return {
            key: list(value) if isinstance(value := getattr(self, name), tuple) else value
            for key, name in zip(_BSON_KEYS, _NAMES, strict=True)
        }

    @classmethod
    def from_bson(cls, doc: Mapping[str, Any]) -> Message:
        """Validated when it was written: taken as it is stored (a field added later
        takes its default in older documents)."""
        return cls(*map(doc.get, _BSON_KEYS, _DEFAULTS))

    def to_bus(self) -> dict[str, Any]:
        """JSON-ready: ids as hex, times as ISO 8601."""
        return {name: _encode(getattr(self, name)) for name in _NAMES}

    @classmethod
    def from_bus(cls, data: Mapping[str, Any]) -> Message:
        return cls(*(decode(data.get(n, d)) for n, d, decode in _BUS_FIELDS))


MENTION = re.compile(r"(?<![\w.@/-])@([A-Za-z0-9_][A-Za-z0-9_.-]*)")
"""`@name` not inside a word, an address or a path; usernames are A-Z a-z 0-9 _ . -"""
MENTIONS_MAX = 50


def mentions_in(body: str) -> tuple[str, ...]:
    """The names a body mentions (folded, once each, in order; "room" for `@room`)."""
    if "@" not in body:
        return ()
    names = dict.fromkeys(m.rstrip(".-").lower() for m in MENTION.findall(body))
    return tuple(names)[:MENTIONS_MAX]


class MessageCollection(Document):
    """Beanie's view of the messages: the collection's name and its indexes."""

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("room", ASCENDING), ("seq", ASCENDING)], unique=True),
            IndexModel(
                [("room", ASCENDING), ("author", ASCENDING), ("client_id", ASCENDING)],
                unique=True,
                partialFilterExpression={"client_id": {"$type": "string"}},
                name="one_post_per_client_id",
            ),
        ]


def messages_collection() -> Any:
    """PyMongo's collection of the messages (Beanie binds it at startup)."""
    return MessageCollection.get_pymongo_collection()


def _encode(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _same(value: Any) -> Any:
    return value


def _decoder(hint: Any) -> Any:
    if hint in (ObjectId, ObjectId | None):
        return lambda v: None if v is None else ObjectId(v)
    if hint in (datetime, datetime | None):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    return _same


_NAMES = tuple(f.name for f in fields(Message))
_BSON_KEYS = tuple("_id" if name == "id" else name for name in _NAMES)
_DEFAULTS = tuple(None if f.default is MISSING else f.default for f in fields(Message))
_HINTS = get_type_hints(Message)
_BUS_FIELDS = tuple((n, d, _decoder(_HINTS[n])) for n, d in zip(_NAMES, _DEFAULTS, strict=True))
