"""Post messages and read history. History pages are `seq` ranges, never sort+limit."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from tac.chat import Chat
from tac.chat.errors import Conflict, Invalid, NotFound, RateLimited
from tac.chat.rooms import require_member, room_by_id
from tac.chat.text import message_text
from tac.events import posted
from tac.metrics import MESSAGES_POSTED
from tac.models import Message, Room, User, messages_collection
from tac.models.user import utcnow

SEQ_ATTEMPTS = 3
"""Seqs a post may take before giving up: more than one only after a counter lost its place."""
SEQ_MAX = 2**62
"""Sequence numbers and page sizes above this are refused before they reach MongoDB."""
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_body(chat: Chat, body: str) -> str:
    """The body as stored, or Invalid: the policy of chat/text.py, then the length."""
    body = message_text(body).strip()
    if not body:
        raise Invalid("A message needs some text.", field="body")
    limit = chat.settings.message_max_chars
    if len(body) > limit:
        raise Invalid(
            f"A message may have at most {limit} characters (this one has {len(body)}).",
            field="body",
        )
    return body


async def stored_top(room_id: ObjectId) -> int:
    """The highest seq stored in the room: its `last_seq`, or above it a message whose
    write did not get as far as moving it (a range on the (room, seq) index)."""
    room = await Room.get_pymongo_collection().find_one({"_id": room_id}, {"last_seq": True})
    if room is None:
        raise NotFound("No such room.")
    top: int = room["last_seq"]
    above = messages_collection().find({"room": room_id, "seq": {"$gt": top}}, {"seq": True})
    seqs: list[int] = [doc["seq"] async for doc in above]
    return max([top, *seqs])


def check_client_id(client_id: object) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise Invalid("`client_id` is 1 to 64 of A-Z, a-z, 0-9, _ and -.", field="client_id")
    return client_id


async def post_message(
    chat: Chat,
    author: User,
    room: Room,
    body: str,
    client_id: str | None = None,
    *,
    retry: bool = False,
    known_member: bool = False,
) -> Message:
    """Store the message, then publish it. A message not stored was not sent.

    With a `client_id`, posting again returns the message stored the first time: a client
    that lost its socket before the acknowledgment resends with `retry` (which looks first,
    so the common resend takes no seq); a duplicate that was not marked as a retry is caught
    by the unique index, and its seq left unused (abandoned: catch-ups pass it).

    `known_member`: the caller (a socket that follows membership changes) knows the author
    is a member, and the membership read is skipped: a post is then two round trips to the
    database before it is published (take the seq, store the message).
    """
    body = check_body(chat, body)
    client_id = check_client_id(client_id)
    if not known_member:
        await require_member(author, room)
    if retry and client_id is not None:
        stored = await posted_before(room, author, client_id)
        if stored is not None:
            return await published_again(chat, stored)
    wait = await chat.rate_limiter.retry_after(str(author.id))
    if wait > 0:
        raise RateLimited(f"Slow down: try again in {wait:.0f} s.", retry_after=wait)
    assert author.id is not None and room.id is not None
    # From here on only the database can fail: the body was checked above (it encodes as
    # UTF-8, so BSON takes it) and the author's name was checked when it was stored. A seq
    # whose insert still fails is passed over by catch-ups after seq_abandoned_seconds.
    room_key = str(room.id)
    floor = partial(stored_top, room.id)
    for _ in range(SEQ_ATTEMPTS):
        message = Message(
            room=room.id,
            seq=await chat.seqs.take(room_key, floor),
            author=author.id,
            author_name=author.display_name,
            body=body,
            client_id=client_id,
        )
        try:
            await chat.writer.store(message)
        except DuplicateKeyError:
            stored = await posted_before(room, author, client_id) if client_id else None
            if stored is not None:
                return await published_again(chat, stored)
            # The seq was given twice (a counter that lost its place): go past the top.
            await chat.seqs.raise_to(room_key, await stored_top(room.id))
            continue
        MESSAGES_POSTED.inc()
        room.last_seq = max(room.last_seq, message.seq)
        return message
    raise Conflict("The room's counter is busy: try again.")


async def published_again(chat: Chat, message: Message) -> Message:
    """Publish a stored message once more: its first publish may never have happened (the
    instance died between storing and publishing, and the client resent). Hubs drop the
    copy wherever the first one arrived."""
    await chat.bus.publish(posted(message))
    return message


async def posted_before(room: Room, author: User, client_id: str) -> Message | None:
    """The message `author` posted in `room` with this client id, if any."""
    query = {"room": room.id, "author": author.id, "client_id": client_id}
    found = await messages_collection().find_one(query)
    return Message.from_bson(found) if found is not None else None


async def history_before(room: Room, before: int, limit: int) -> list[Message]:
    """Up to `limit` messages with seq in [before - limit, before), oldest first."""
    low = max(before - limit, 1)
    return await messages_between(room.id, low, before - 1)


async def history_after(room: Room, after: int, limit: int) -> list[Message]:
    """Up to `limit` messages with seq in (after, after + limit], oldest first."""
    return await messages_between(room.id, after + 1, min(after + limit, room.last_seq))


async def messages_between(room_id: ObjectId | None, low: int, high: int) -> list[Message]:
    """Messages with low <= seq <= high, oldest first: a range on the (room, seq) index."""
    if high < low:
        return []
    # One range on seq, not Beanie's {"$and": [..., {seq >= low}, {seq <= high}]}: the
    # embedded server walks the index for the first and scans for the second (measured:
    # 5 ms against 350 ms for a page of 50 in a room of 10,000; ops/bench/history.py).
    # Read with PyMongo into plain records: Beanie's find and its documents cost more
    # than the query itself.
    query = {"room": room_id, "seq": {"$gte": low, "$lte": high}}
    found = await messages_collection().find(query).to_list()
    return sorted((Message.from_bson(doc) for doc in found), key=lambda m: m.seq)


async def latest(room: Room, limit: int) -> list[Message]:
    return await history_before(room, room.last_seq + 1, limit)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a (re)connecting client missed, and how far it now holds the room without a hole."""

    messages: list[Message]
    mark: int
    """The client holds every seq up to here (or none will ever come: the seq is older than
    the catch-up window, or was taken by a post that failed). Live messages at or below it
    are dropped; those above it that the catch-up did not send are still delivered."""

    @property
    def sent(self) -> set[int]:
        return {m.seq for m in self.messages}


async def missed_since(chat: Chat, room: Room, since: int) -> CatchUp:
    """Everything after `since`, waiting briefly for holes that may still fill.

    A seq is taken before its message is stored, so a hole followed by a recent message is
    a message still on its way: we wait for it up to gap_repair_seconds, and return without
    it after that (it arrives live: the mark stays below it). A seq taken longer ago than
    seq_abandoned_seconds and still missing is a post that failed: we neither wait for it
    nor let it hold the mark back. `room.last_seq` is refreshed on the way.
    """
    settings = chat.settings
    abandoned = settings.seq_abandoned_seconds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.gap_repair_seconds
    while True:
        fresh = await Room.get(room.id)
        top = room.last_seq = fresh.last_seq if fresh else room.last_seq
        low = max(since + 1, top - settings.catchup_max_messages + 1)
        if low > top:  # nothing after `since` (or a client claiming more than exists)
            return CatchUp([], min(since, top))
        found = await messages_between(room.id, low, top)
        top_at = fresh.last_seq_at if fresh else None
        mark = held_through(low - 1, found, top, top_at, abandoned)
        if mark == top or loop.time() > deadline:
            return CatchUp(found, mark)
        await asyncio.sleep(0.02)


def held_through(
    start: int, found: list[Message], top: int, top_at: datetime | None, abandoned: float
) -> int:
    """The highest seq up to which `found` (by seq, all above `start`) leaves no hole that
    may still fill. A hole is abandoned when a later message is older than `abandoned`
    seconds (its seq was taken before that message's), and a hole at the top when the top
    seq was taken longer ago than that (`top_at`)."""
    dead_before = utcnow() - timedelta(seconds=abandoned)
    mark = start
    for message in found:
        if message.seq != mark + 1 and message.created_at > dead_before:
            return mark
        mark = message.seq
    if mark < top and (top_at is None or top_at <= dead_before):
        return top
    return mark


async def messages_from(room_id: str, low: int, high: int | None = None) -> list[Message]:
    """Messages low..high of the room with this id (high None: up to its newest); what the
    hub reads when the bus lost events."""
    if high is None:
        high = (await room_by_id(room_id)).last_seq
    return await messages_between(ObjectId(room_id), low, high)


async def room_top(room_id: str) -> int:
    """The newest seq of the room with this id."""
    return (await room_by_id(room_id)).last_seq
