"""The page's one socket: every room of its user, unread badges, read marks, switching rooms,
joining and leaving, typing. Real Hypercorn, real MongoDB, real WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import websockets
from bson import ObjectId

from tac.models import Membership, Room, User, messages_collection
from tests.conftest import Person, unique
from tests.waiting import wait_until
from tests.web.test_ws import join, make_room, seqs

BADGE = re.compile(r'<span id="unread-([0-9a-f]{24})" class="unread[^"]*"[^>]*>([0-9+]*)</span>')


class Page:
    """A page's socket as the page sees it: every frame, and each sidebar badge as shown."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self.badges: dict[str, str] = {}
        self.badge_updates: Counter[str] = Counter()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self.ws:
                self.frames.append(str(frame))
                for room, shown in BADGE.findall(str(frame)):
                    self.badges[room] = shown
                    self.badge_updates[room] += 1

    @property
    def text(self) -> str:
        return "".join(self.frames)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def shows(self, needle: str, seconds: float = 5.0) -> None:
        await wait_until(lambda: needle in self.text, seconds, what=f"the page gets {needle!r}")

    async def badge(self, room: str, shown: str, seconds: float = 5.0) -> None:
        await wait_until(
            lambda: self.badges.get(room) == shown, seconds, what=f"badge of {room} is {shown!r}"
        )

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def page(person: Person, room: str, last_seq: int | None = None) -> AsyncIterator[Page]:
    """A page of `person` showing the room with id `room`, on the page's socket (/ws)."""
    cookie = "; ".join(f"{k}={v}" for k, v in person.http.cookies.items())
    url = person.base_url.replace("http", "ws", 1) + "/ws"
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie}, origin=websockets.Origin(person.base_url)
    ) as ws:
        shown = Page(ws)
        top = await room_top(room) if last_seq is None else last_seq
        await shown.send(hello=True, room=room, last_seq=top)
        await shown.shows('class="unread"')  # the hello's badges (of #general at least)
        try:
            yield shown
        finally:
            await shown.close()


async def room_id(slug: str) -> str:
    room = await Room.find_one(Room.slug == slug)
    assert room is not None
    return str(room.id)


async def room_top(room: str) -> int:
    found = await Room.get(room)
    assert found is not None
    return found.last_seq


async def read_marker(person: Person, room: str) -> int:
    user = await User.find_one(User.username == person.username)
    assert user is not None
    found = await Membership.get_pymongo_collection().find_one(
        {"user": user.id, "room": ObjectId(room)}
    )
    assert found is not None
    return int(found["last_read_seq"])


async def two_rooms(alice: Person, bob: Person) -> tuple[str, str]:
    """Rooms R and S with both in them; alice will look at S, bob posts in R."""
    r = await make_room(bob, unique("busy"))
    s = await make_room(alice, unique("quiet"))
    await join(alice, r)
    await join(bob, s)
    return await room_id(r), await room_id(s)


async def post(page: Page, room: str, *bodies: str) -> None:
    """Post each body, and wait until the last is acknowledged (stored)."""
    for body in bodies:
        client_id = unique("c")
        await page.send(body=body, room=room, client_id=client_id)
    await page.shows(f'data-client-id="{client_id}" data-seq-acked=')


async def test_messages_in_another_room_raise_its_badge_coalesced_not_the_page(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, s = await two_rooms(alice, bob)
    async with page(alice, s) as a, page(bob, r) as b:
        assert a.badges[r] == ""
        await post(b, r, "one", "two", "three", "four", "five")
        await a.badge(r, "5")
        assert "five" not in a.text  # the messages themselves stay in their room
        # Five messages, at most two badge frames: at once, then the rest a second later.
        assert a.badge_updates[r] <= 1 + 2
        # bob's own messages are no news to bob.
        await asyncio.sleep(1.2)
        assert b.badges.get(r, "") == ""


async def test_reading_a_room_clears_its_badge_in_every_tab_and_survives_a_reconnect(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, s = await two_rooms(alice, bob)
    before = await room_top(r)
    async with page(alice, s) as tab1, page(alice, s) as tab2, page(bob, r) as b:
        await post(b, r, "first", "second", "third")
        for tab in (tab1, tab2):
            await tab.badge(r, "3")
        # Tab 1 opens R on its socket: it gets what it does not hold, then R live.
        await tab1.send(open=r, last_seq=before)
        await tab1.shows("third")
        assert seqs(tab1.frames)[-3:] == [before + 1, before + 2, before + 3]
        await tab1.send(read=r, seq=before + 3)
        await tab2.badge(r, "")
        assert await read_marker(alice, r) == before + 3
        await post(b, r, "fourth")
        await tab1.shows("fourth")  # on screen in tab 1, a badge in tab 2
        await tab2.badge(r, "1")
    # After a reconnect the database counts: one unread, the read marker kept.
    async with page(alice, s) as again:
        assert again.badges[r] == "1"
        assert await read_marker(alice, r) == before + 3


async def test_a_reconnect_while_someone_posts_ends_with_the_right_count(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, s = await two_rooms(alice, bob)
    async with page(bob, r) as b:
        posting = asyncio.create_task(post(b, r, *[f"burst {i}" for i in range(30)]))
        for _ in range(3):  # alice's page drops and comes back while bob posts
            async with page(alice, s):
                await asyncio.sleep(0.05)
        async with page(alice, s) as a:
            await posting
            await a.badge(r, "30")


async def test_joining_subscribes_the_open_socket_at_once_and_leaving_unsubscribes(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    slug = await make_room(bob, unique("joined-later"))
    r = await room_id(slug)
    general = await room_id("general")
    async with page(alice, general) as a, page(bob, r) as b:
        joined = await alice.post_form(f"/rooms/{slug}/join", {}, page="/rooms")
        assert joined.status_code == 302
        await a.shows(f'<li id="side-{r}">')  # the sidebar gains the room, live
        await post(b, r, "just after the join")
        await a.badge(r, "1")
        left = await alice.post_form(f"/rooms/{slug}/leave", {}, page="/rooms")
        assert left.status_code == 302
        await a.shows(f'<li id="side-{r}" hx-swap-oob="delete">')
        updates = a.badge_updates[r]
        await post(b, r, "after the leave")
        await asyncio.sleep(1.5)  # longer than a badge interval
        assert a.badge_updates[r] == updates
        assert "after the leave" not in a.text


async def test_switching_rooms_keeps_one_socket_and_shows_the_new_room_live(
    person_factory: Any,
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, s = await two_rooms(alice, bob)
    async with page(alice, s) as a, page(bob, r) as b:
        await a.send(open=r, last_seq=await room_top(r))
        await post(b, r, "now on screen")
        await a.shows("now on screen")
        await b.send(open=s, last_seq=await room_top(s))
        await post(b, s, "in the quiet room")
        await a.badge(s, "1")  # S is no longer on alice's screen
        await a.send(open=s, last_seq=await room_top(s) - 1)
        await a.shows("in the quiet room")  # what she did not hold of it


async def test_a_visitor_reads_a_public_room_only_while_it_is_open(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    slug = await make_room(bob, unique("public"))
    r = await room_id(slug)
    general = await room_id("general")
    async with page(alice, r) as a, page(bob, r) as b:
        await post(b, r, "visitors see this")
        await a.shows("visitors see this")
        await a.send(open=general, last_seq=await room_top(general))
        await asyncio.sleep(0.3)
        await post(b, r, "but not this")
        await asyncio.sleep(0.5)
        assert "but not this" not in a.text
        assert r not in a.badges  # not a member: no badge either


async def test_typing_reaches_the_others_in_the_room_is_not_stored_and_expires(
    person_factory: Any, settings: Any
) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, s = await two_rooms(alice, bob)
    stored = await messages_collection().count_documents({})
    async with page(alice, r) as a, page(bob, r) as b, page(bob, s) as elsewhere:
        await a.send(typing=r)
        await b.shows("is typing…")
        name = (await User.find_one(User.username == alice.username)).display_name  # type: ignore[union-attr]
        assert f"{name} is typing…" in b.text
        assert "is typing" not in elsewhere.text  # not on a page showing another room
        frames = len(b.frames)
        await a.send(typing=r)  # within the throttle: no second event
        # It goes away by itself: an empty indicator replaces it.
        await wait_until(
            lambda: re.search(r'<p id="typing"[^>]*></p>', "".join(b.frames[frames:])),
            settings.typing_expire_seconds + 3,
            what="the typing indicator expires",
        )
        assert "is typing" not in "".join(b.frames[frames:])
        assert "is typing" not in a.text  # never shown to the typist
    assert await messages_collection().count_documents({}) == stored


async def test_mentions_page_person_page_and_suggestions(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, _ = await two_rooms(alice, bob)
    slug = (await Room.get(ObjectId(r))).slug  # type: ignore[union-attr]
    async with page(bob, r) as b:
        await post(b, r, f"<b>@{alice.username}</b> please review")
    mentions = await alice.http.get("/mentions")
    assert mentions.status_code == 200
    assert "please review" in mentions.text
    assert f'href="/rooms/{slug}#msg-' in mentions.text
    link = f'<a class="mention" data-mention="{alice.username}" href="/users/{alice.username}">'
    assert link in mentions.text
    assert "&lt;b&gt;" in mentions.text and "<b>@" not in mentions.text  # escaped
    assert "Nobody has mentioned you yet." in (await bob.http.get("/mentions")).text
    person = await bob.http.get(f"/users/{alice.username.upper()}")
    assert person.status_code == 200 and f"@{alice.username}" in person.text
    assert (await bob.http.get("/users/nobody-by-this-name")).status_code == 404
    offered = await bob.http.get(f"/rooms/{slug}/mentionable", params={"q": alice.username[:6]})
    assert offered.status_code == 200
    assert f'data-username="{alice.username}"' in offered.text
    stranger: Person = await person_factory()
    refused = await stranger.http.get(f"/rooms/{slug}/mentionable", params={"q": "a"})
    assert refused.status_code == 403


async def test_a_muted_room_keeps_a_grey_badge(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    r, s = await two_rooms(alice, bob)
    slug = (await Room.get(ObjectId(r))).slug  # type: ignore[union-attr]
    muted = await alice.post_form(f"/rooms/{slug}/mute", {"muted": "1"}, page=f"/rooms/{slug}")
    assert muted.status_code == 302
    assert "Unmute #" in (await alice.http.get(f"/rooms/{slug}")).text
    async with page(alice, s) as a, page(bob, r) as b:
        await post(b, r, f"@{alice.username} even muted, counted")
        await a.badge(r, "1")
        assert re.search(rf'id="unread-{r}" class="unread mentioned muted"', a.text)
