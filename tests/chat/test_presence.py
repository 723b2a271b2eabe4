"""Who is online: live in the members list, one person however many tabs."""

from __future__ import annotations

import re
import time
from typing import Any

from tac.bus.local import LocalBus
from tac.chat.presence import Presence
from tac.stores.presence import LocalPresenceStore
from tests.conftest import Person, hello, receive_until
from tests.waiting import wait_until


def online_ids(frame: str) -> set[str]:
    return set(re.findall(r'data-user="([0-9a-f]+)" class="online"', frame))


async def user_id(person: Person) -> str:
    me = await person.http.get("/api/v1/users/me")  # the session works for the API too
    assert me.status_code == 200, me.text
    return str(me.json()["id"])


async def test_members_list_shows_who_comes_online_and_goes(person_factory: Any) -> None:
    alice: Person = await person_factory()
    bob: Person = await person_factory()
    bob_id = await user_id(bob)
    async with alice.connect("general") as a:
        await hello(a, 10**9)
        async with bob.connect("general") as b:
            await hello(b, 10**9)
            frames = await receive_until(
                a, lambda t: bob_id in online_ids(t.rsplit("<section", 1)[-1])
            )
            assert "online" in frames[-1]
            page = await alice.http.get("/rooms/general")
            assert bob_id in online_ids(page.text)
        frames = await receive_until(
            a,
            lambda t: 'id="members"' in t and bob_id not in online_ids(t.rsplit("<section", 1)[-1]),
        )


async def test_two_tabs_are_one_person_and_leaving_one_keeps_them_online() -> None:
    presence = Presence(LocalPresenceStore(), LocalBus(), "i1", ttl=30, heartbeat=10)
    await presence.arrive("r", "u1")
    await presence.arrive("r", "u1")
    assert await presence.online("r") == {"u1"}
    await presence.leave("r", "u1")
    assert await presence.online("r") == {"u1"}
    await presence.leave("r", "u1")
    assert await presence.online("r") == set()


async def test_marks_of_a_silent_instance_expire() -> None:
    store = LocalPresenceStore()
    crashed = Presence(store, LocalBus(), "crashed", ttl=0.2, heartbeat=10)
    alive = Presence(store, LocalBus(), "alive", ttl=0.2, heartbeat=10)
    await crashed.arrive("r", "u1")
    await alive.arrive("r", "u2")
    marked = time.monotonic()
    assert await alive.online("r") == {"u1", "u2"}

    async def swept() -> bool:
        await alive.renew_and_sweep()  # only the live instance renews
        return await alive.online("r") == {"u2"}

    await wait_until(swept, what="u1's mark (ttl 0.2 s) expired and u2's did not")
    assert time.monotonic() - marked >= 0.2, "a mark expired before its ttl"


async def test_visitors_are_counted_apart_not_listed_as_online_members(
    person_factory: Any,
) -> None:
    from tests.web.test_ws import make_room

    alice: Person = await person_factory()
    bob: Person = await person_factory()  # reads the public room without joining it
    alice_id, bob_id = await user_id(alice), await user_id(bob)
    slug = await make_room(alice, "Open house")
    async with alice.connect(slug) as a, bob.connect(slug) as b:
        await hello(a, 10**9)
        await hello(b, 10**9)
        frames = await receive_until(a, lambda t: "1 visitor reading" in t)
        members = frames[-1].rsplit("<section", 1)[-1]
        assert online_ids(members) == {alice_id}
        assert bob_id not in members
        assert "1 online" in members
        page = (await bob.http.get(f"/rooms/{slug}")).text
        assert online_ids(page) == {alice_id} and "1 visitor reading" in page


async def test_a_rooms_members_are_read_once_and_again_when_a_stranger_is_online(
    chat: Any,
) -> None:
    """Each presence update needs the room's members; they are read once, and read again
    when someone online is not among them (they may have just joined)."""
    from tac.chat.rooms import join_room
    from tac.models import Membership
    from tests.chat.conftest import new_user
    from tests.chat.test_messages import room_with_messages

    room = await room_with_messages(0)
    ann, bob = await new_user(chat, "ann"), await new_user(chat, "bob")
    await join_room(ann, room)
    presence = Presence(LocalPresenceStore(), LocalBus(), "i", 30, 10, members_fresh_seconds=60)
    assert await presence.members_of(room) == {str(ann.id)}
    await join_room(bob, room)
    assert await presence.members_of(room, {str(ann.id)}) == {str(ann.id)}  # cached
    await Membership.find({"room": room.id, "user": ann.id}).delete()
    assert await presence.members_of(room, {str(bob.id)}) == {str(bob.id)}  # a stranger: read
    await join_room(ann, room)
    assert await presence.members_of(room, {str(bob.id)}) == {str(bob.id)}  # cached
    read_at, members, strangers = presence._members[str(room.id)]
    presence._members[str(room.id)] = (read_at - 1.5, members, strangers)
    assert await presence.members_of(room, {str(bob.id), "x"}) == {str(ann.id), str(bob.id)}


async def test_a_member_connected_anywhere_is_online_in_each_of_their_rooms(
    person_factory: Any,
) -> None:
    """Online means connected anywhere, not 'has this room open'; members who are not
    connected are listed too, after those online."""
    from tests.web.test_ws import join, make_room

    alice: Person = await person_factory()
    bob: Person = await person_factory()  # only #general open
    carol: Person = await person_factory()  # not connected at all
    bob_id, carol_id = await user_id(bob), await user_id(carol)
    slug = await make_room(alice, "Anywhere")
    await join(bob, slug)
    await join(carol, slug)
    async with alice.connect(slug) as a, bob.connect("general") as b:
        await hello(a, 10**9)
        await hello(b, 10**9)
        frames = await receive_until(a, lambda t: bob_id in online_ids(t.rsplit("<section", 1)[-1]))
        members = frames[-1].rsplit("<section", 1)[-1]
        assert "2 online" in members and f'data-user="{carol_id}" class="offline"' in members
        api = (await alice.http.get(f"/api/v1/rooms/{slug}/members")).json()["members"]
        assert {m["id"]: m["online"] for m in api}[bob_id] is True
    # Bob's last socket closed: offline here too, live.
    page = (await alice.http.get(f"/rooms/{slug}")).text
    assert bob_id not in online_ids(page)
    assert page.index(f'data-user="{await user_id(alice)}" class="online"') < page.index(
        'class="offline"'
    )


async def test_the_first_paint_counts_the_reader_online(person_factory: Any) -> None:
    """The page is rendered before its socket opens: its reader is online on it."""
    newcomer: Person = await person_factory()
    page = (await newcomer.http.get("/rooms/general")).text
    assert await user_id(newcomer) in online_ids(page)
    assert '<span class="online-count">0 online' not in page


async def test_pushes_share_a_recent_read_of_who_is_online_pages_read_afresh() -> None:
    """A wave of arrivals in many rooms reads everyone's marks once per window, not once
    per room update; a page or an API answer never takes the shared read."""
    presence = Presence(LocalPresenceStore(), LocalBus(), "i", 30, 10, online_fresh_seconds=60)
    await presence.arrive("room-a", "ann")
    assert await presence.online_anywhere(shared=True) == {"ann"}
    await presence.arrive("room-b", "bob")
    assert await presence.online_anywhere(shared=True) == {"ann"}  # the shared read
    assert await presence.online_anywhere() == {"ann", "bob"}  # afresh
    assert await presence.online_anywhere(shared=True) == {"ann", "bob"}  # and shared again


async def test_pushes_at_once_share_one_read_on_its_way() -> None:
    import asyncio

    class Counting(LocalPresenceStore):
        reads = 0

        async def members(self, room: str, now: float) -> set[str]:
            self.reads += 1
            await asyncio.sleep(0.01)
            return await super().members(room, now)

    store = Counting()
    presence = Presence(store, LocalBus(), "i", 30, 10, online_fresh_seconds=60)
    await presence.arrive("room-a", "ann")
    found = await asyncio.gather(*(presence.online_anywhere(shared=True) for _ in range(50)))
    assert all(f == {"ann"} for f in found)
    assert store.reads == 1
