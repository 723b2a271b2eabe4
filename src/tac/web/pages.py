"""Whole pages, and the plain-POST forms that work before any JavaScript runs."""

from __future__ import annotations

from quart import Blueprint, ResponseReturnValue, redirect, render_template, request, url_for

from tac.chat import messages, reads, rooms
from tac.chat.accounts import user_by_username
from tac.chat.errors import ChatError
from tac.chat.mentions import check_room_mention, mentions_of
from tac.chat.presence import room_presence
from tac.models import Room, User
from tac.web import chat, settings
from tac.web.auth import current_user, login_required

bp = Blueprint("pages", __name__)


async def me() -> User:
    user = await current_user()
    assert user is not None  # login_required ran first
    return user


@bp.get("/")
@login_required
async def index() -> ResponseReturnValue:
    return redirect(url_for("pages.room", slug=rooms.GENERAL))


async def render_room(
    room: Room, *, error: ChatError | None = None, draft: str = "", status: int = 200
) -> ResponseReturnValue:
    user = await me()
    page = await messages.latest(room, settings().history_page_size)
    first_seq = page[0].seq if page else room.last_seq + 1
    # The page holds the room up to its first hole that may still fill: the socket's hello
    # says so, and what is missing arrives then.
    held = messages.held_through(
        first_seq - 1, page, room.last_seq, room.last_seq_at, settings().seq_abandoned_seconds
    )
    membership = await rooms.membership_of(user, room)
    read_seq = membership.last_read_seq if membership is not None else room.last_seq
    # A sidebar click asks for the panel alone; a page (or back/forward) for all of it.
    panel_only = request.headers.get("HX-Target") == "room-panel" and not request.headers.get(
        "HX-History-Restore-Request"
    )
    context = {
        "room": room,
        "messages": page,
        "first_seq": first_seq,
        "last_seq": held,
        "presence": await room_presence(
            chat().presence, room, settings().presence_list_max, viewer=str(user.id)
        ),
        "is_member": membership is not None,
        "muted": membership is not None and membership.muted,
        "unread_from": next((m.seq for m in page if m.seq > read_seq and m.author != user.id), 0),
        "error": error,
        "draft": draft,
    }
    if panel_only:
        html = await render_template("partials/room_panel.html", **context)
        return html, status, {"Vary": "HX-Target"}
    my_rooms = await rooms.rooms_of(user)
    unread = await reads.unread_in(chat(), user, my_rooms)
    unread.pop(str(room.id), None)  # on screen: read now
    html = await render_template(
        "pages/room.html",
        **context,
        my_rooms=my_rooms,
        unread=unread,
        unread_total=sum(u.count for u in unread.values()),
        live=True,
    )
    return html, status, {"Vary": "HX-Target"}


@bp.get("/rooms/<slug>")
@login_required
async def room(slug: str) -> ResponseReturnValue:
    return await render_room(await rooms.room_by_slug(slug))


@bp.post("/rooms/<slug>/messages")
@login_required
async def post_message(slug: str) -> ResponseReturnValue:
    """The composer without JavaScript: post, then show the room again."""
    room = await rooms.room_by_slug(slug)
    body = (await request.form).get("body", "")
    try:
        await check_room_mention(chat(), room, body)
        await messages.post_message(chat(), await me(), room, body)
    except ChatError as e:
        return await render_room(room, error=e, draft=body, status=422)
    return redirect(url_for("pages.room", slug=slug))


@bp.post("/rooms/<slug>/join")
@login_required
async def join(slug: str) -> ResponseReturnValue:
    await rooms.join_room(await me(), await rooms.room_by_slug(slug), chat())
    return redirect(url_for("pages.room", slug=slug))


@bp.post("/rooms/<slug>/leave")
@login_required
async def leave(slug: str) -> ResponseReturnValue:
    await rooms.leave_room(chat(), await me(), await rooms.room_by_slug(slug))
    return redirect(url_for("pages.rooms_directory"))


@bp.route("/rooms", methods=["GET", "POST"])
@login_required
async def rooms_directory() -> ResponseReturnValue:
    error: ChatError | None = None
    form = await request.form
    if request.method == "POST":
        try:
            created = await rooms.create_room(
                chat(), await me(), form.get("title", ""), form.get("topic", "")
            )
        except ChatError as e:
            error = e
        else:
            return redirect(url_for("pages.room", slug=created.slug))
    user = await me()
    html = await render_template(
        "pages/rooms.html",
        rooms=await rooms.list_rooms(),
        error=error,
        form=form,
        **await sidebar(user),
    )
    return html, (200 if error is None else 422)


@bp.post("/rooms/<slug>/mute")
@login_required
async def mute(slug: str) -> ResponseReturnValue:
    """Mute (muted=1) or unmute a room: its badge stays grey, no notification comes from it."""
    muted = (await request.form).get("muted") == "1"
    await reads.set_muted(await me(), await rooms.room_by_slug(slug), muted)
    return redirect(url_for("pages.room", slug=slug))


@bp.get("/mentions")
@login_required
async def mentions_view() -> ResponseReturnValue:
    """The messages that mention me, newest first, each linking to it in its room."""
    user = await me()
    return await render_template(
        "pages/mentions.html",
        found=await mentions_of(user, settings().history_page_size),
        **await sidebar(user),
    )


@bp.get("/users/<username>")
@login_required
async def person(username: str) -> ResponseReturnValue:
    """Who someone is: where an `@username` in a message leads."""
    return await render_template(
        "pages/user.html", person=await user_by_username(username), **await sidebar(await me())
    )


async def sidebar(user: User) -> dict[str, object]:
    """The sidebar of a page without a room: the user's rooms with their unread badges."""
    my_rooms = await rooms.rooms_of(user)
    return {"my_rooms": my_rooms, "unread": await reads.unread_in(chat(), user, my_rooms)}
