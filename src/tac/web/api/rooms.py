"""Rooms: the directory, create, join, leave, and who is in a room."""

from __future__ import annotations

from quart_schema import validate_querystring, validate_request, validate_response

from tac.chat import reads, rooms
from tac.web import chat
from tac.web.api import bp, errors
from tac.web.api.auth import api_user
from tac.web.api.schemas import (
    MemberList,
    MemberOut,
    ReadMark,
    RoomCreate,
    RoomList,
    RoomOut,
    RoomsQuery,
)


@bp.get("/rooms")
@validate_querystring(RoomsQuery)
@validate_response(RoomList)
@errors(401, 422)
async def list_rooms(query_args: RoomsQuery) -> RoomList:
    """Every room (the directory), each saying whether you joined it and, if you did, how
    many messages are unread there and how many of them mention you; `joined` filters."""
    user = await api_user()
    mine = await rooms.rooms_of(user)
    unread = await reads.unread_in(chat(), user, mine)
    listed = [
        RoomOut.of(room, joined=str(room.id) in unread, unread=unread.get(str(room.id)))
        for room in await rooms.list_rooms()
    ]
    if query_args.joined is not None:
        listed = [room for room in listed if room.joined == query_args.joined]
    return RoomList(rooms=listed)


@bp.post("/rooms")
@validate_request(RoomCreate)
@validate_response(RoomOut, 201)
@errors(400, 401, 403, 409, 422)
async def create_room(data: RoomCreate) -> tuple[RoomOut, int]:
    """Create a room and join it. Its slug comes from the title."""
    user = await api_user()
    room = await rooms.create_room(chat(), user, data.title, data.topic)
    return RoomOut.of(room, joined=True), 201


@bp.get("/rooms/<slug>")
@validate_response(RoomOut)
@errors(401, 404)
async def get_room(slug: str) -> RoomOut:
    """One room, by slug (with your unread counts if you are in it)."""
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    unread = (await reads.unread_in(chat(), user, [room])).get(str(room.id))
    return RoomOut.of(room, joined=unread is not None, unread=unread)


@bp.post("/rooms/<slug>/join")
@validate_response(RoomOut)
@errors(401, 403, 404)
async def join_room(slug: str) -> RoomOut:
    """Join a room (joining twice is fine)."""
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    await rooms.join_room(user, room, chat())
    unread = (await reads.unread_in(chat(), user, [room])).get(str(room.id))
    return RoomOut.of(room, joined=True, unread=unread)


@bp.post("/rooms/<slug>/leave")
@validate_response(RoomOut)
@errors(401, 403, 404)
async def leave_room(slug: str) -> RoomOut:
    """Leave a room you are in (403 if you are not)."""
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    await rooms.leave_room(chat(), user, room)
    return RoomOut.of(room, joined=False)


@bp.get("/rooms/<slug>/members")
@validate_response(MemberList)
@errors(401, 403, 404)
async def room_members(slug: str) -> MemberList:
    """Who is in a room you are in, and who of them is online now."""
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    in_room = await rooms.members(user, room)
    presence = chat().presence
    online = await presence.online(str(room.id)) | await presence.online_anywhere()
    return MemberList(members=[MemberOut.of_member(u, online=str(u.id) in online) for u in in_room])


@bp.post("/rooms/<slug>/read")
@validate_request(ReadMark)
@validate_response(RoomOut)
@errors(400, 401, 403, 404, 422)
async def read_room(slug: str, data: ReadMark) -> RoomOut:
    """Move your read marker of a room you are in up to `seq`: its unread count and your
    badges in every browser follow, and your streams get a `room.read` event."""
    user = await api_user()
    room = await rooms.room_by_slug(slug)
    await reads.mark_read(chat(), user, room, data.seq)
    room = await rooms.room_by_slug(slug)
    unread = (await reads.unread_in(chat(), user, [room])).get(str(room.id))
    return RoomOut.of(room, joined=True, unread=unread)
