"""The hub's fan-out: one render per event, slow sockets closed, not waited for, gaps
repaired through the reading it is handed. No app, no database: messages in memory."""

from __future__ import annotations

import asyncio

from tac.bus.local import LocalBus
from tac.events import Event, left, posted, session_ended
from tac.hub import Connection, Hub
from tests.hub.fakes import FarEnd, Room, no_presence


def render_seq(event: Event, payload: object, fmt: str) -> str:
    return f"<m{event.seq}/>"


async def started_hub(
    room: Room, gap_seconds: float = 5, coalesce_seconds: float = 0.0, render=render_seq
) -> tuple[Hub, LocalBus]:
    bus = LocalBus()
    hub = Hub(
        bus,
        render,
        room.top,
        room.read,
        no_presence,
        gap_repair_seconds=gap_seconds,
        coalesce_seconds=coalesce_seconds,
    )
    await hub.start()
    return hub, bus


async def publish(bus: LocalBus, room: Room, *seqs: int) -> None:
    """As post_message publishes: the event carries the message."""
    for seq in seqs:
        await bus.publish(posted(room.messages[seq - 1]))


async def test_a_slow_socket_is_closed_and_the_others_still_get_every_message() -> None:
    room = Room(5)
    rendered: list[int] = []

    def render(event: Event, payload: object, fmt: str) -> str:
        rendered.append(event.seq)
        return f"<m{event.seq}/>"

    hub, bus = await started_hub(room, render=render)
    fast, slow = Connection("f", "html", limit=100), Connection("s", "html", limit=2)
    for conn in (fast, slow):
        await hub.attach(conn, room.key)
    fast_end = FarEnd(fast)  # the slow one's writer never runs: its queue only fills
    await publish(bus, room, 1, 2, 3, 4, 5)
    frame = await fast_end.next()
    await hub.stop()
    assert frame == "".join(f"<m{i}/>" for i in range(1, 6))
    assert slow.close_code == 1013
    assert rendered == [1, 2, 3, 4, 5]  # once per event, not once per socket


async def test_sockets_arriving_together_in_a_new_room_all_get_its_messages() -> None:
    room = Room(1)

    async def slow_top(room_id: str) -> int:
        await asyncio.sleep(0.01)  # the others arrive while the first reads the room
        return 0

    room.top = slow_top  # type: ignore[method-assign]
    hub, bus = await started_hub(room)
    conns = [Connection(f"u{i}", "html", limit=10) for i in range(5)]
    await asyncio.gather(*(hub.attach(c, room.key) for c in conns))
    ends = [FarEnd(c) for c in conns]
    await publish(bus, room, 1)
    frames = [await end.next() for end in ends]
    await hub.stop()
    assert frames == ["<m1/>"] * 5


async def test_a_lost_message_is_read_back_and_delivered_after_the_gap_delay() -> None:
    room = Room(3)
    hub, bus = await started_hub(room, gap_seconds=0.05)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    await publish(bus, room, 1, 3)  # the bus lost seq 2
    end = FarEnd(conn)
    got = await end.next()
    if "<m2/>" not in got:
        got += await end.next()
    await hub.stop()
    assert got == "<m1/><m3/><m2/>"
    assert room.reads == [(2, 2)]  # the repair's range read is the only read


async def test_a_gap_that_fills_by_itself_costs_no_read() -> None:
    room = Room(3)
    hub, bus = await started_hub(room, gap_seconds=0.05)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    await publish(bus, room, 1, 3, 2)  # out of order, none lost
    await asyncio.sleep(0.2)  # past the gap delay: the repair looked and found nothing
    await hub.stop()
    assert room.reads == []
    assert [seq for _, seq, _ in conn.pending] == [1, 3, 2]


async def test_a_duplicate_event_is_delivered_once() -> None:
    room = Room(2)
    hub, bus = await started_hub(room)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    end = FarEnd(conn)
    await publish(bus, room, 1, 1, 2)
    got = await end.next()
    if got != "<m1/><m2/>":
        got += await end.next()
    await hub.stop()
    assert got == "<m1/><m2/>"


async def test_after_the_bus_reconnects_everything_beyond_the_top_is_read_and_delivered() -> None:
    room = Room(4)
    hub, bus = await started_hub(room)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    end = FarEnd(conn)
    await publish(bus, room, 1)
    assert await end.next() == "<m1/>"
    hub.repair_all()  # the bus lost 2, 3, 4 while it was away
    assert await end.next() == "<m2/><m3/><m4/>"
    await hub.stop()
    assert room.reads == [(2, None)]


async def test_a_busy_room_gets_the_coalesce_windows_messages_in_one_frame() -> None:
    room = Room(3)
    hub, bus = await started_hub(room, coalesce_seconds=0.2)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    end = FarEnd(conn)
    await publish(bus, room, 1)
    first = await end.next(1)  # quiet until now: no delay
    await publish(bus, room, 2)
    await publish(bus, room, 3)
    second = await end.next(1)
    await hub.stop()
    assert (first, second) == ("<m1/>", "<m2/><m3/>")


async def test_a_posted_event_carries_its_message_across_redis_and_costs_no_read() -> None:
    room = Room(1)
    seen: list[object] = []

    def render(event: Event, payload: object, fmt: str) -> str:
        seen.append(payload)
        return f"<m{event.seq}/>"

    hub, bus = await started_hub(room, render=render)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    end = FarEnd(conn)
    carried = posted(room.messages[0])
    crossed = Event.decode(carried.encode())  # as it crosses Redis
    assert crossed == carried
    await bus.publish(crossed)
    assert await end.next() == "<m1/>"
    await hub.stop()
    assert room.reads == [] and seen == [room.messages[0]]


async def test_the_last_socket_leaving_a_room_unsubscribes_this_instance() -> None:
    room = Room(1)
    hub, bus = await started_hub(room)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, room.key)
    assert room.key in hub.rooms
    await hub.detach(conn)
    await publish(bus, room, 1)  # nobody listens: the bus does not hand it over
    await hub.stop()
    assert room.key not in hub.rooms and conn.pending == [] and not hub.connections


async def test_a_member_who_left_stops_receiving_on_member_only_sockets() -> None:
    room = Room(2)
    hub, bus = await started_hub(room)
    stream = Connection("bob", "json", limit=10, member_only=True)
    page = Connection("bob", "html", limit=10)  # a public room's page: a visitor may read
    for conn in (stream, page):
        await hub.attach(conn, room.key)
    await bus.publish(left(room.key, "bob"))
    await publish(bus, room, 1)
    page_end = FarEnd(page)
    assert await page_end.next() == "<m1/>"
    await hub.stop()
    assert stream.pending == [] and room.key not in stream.rooms


async def test_an_ended_session_closes_its_sockets_and_no_others() -> None:
    room = Room(0)
    hub, bus = await started_hub(room)
    ended = Connection("ann", "html", limit=10, session="s1")
    other_tab = Connection("ann", "html", limit=10, session="s2")
    someone = Connection("bob", "html", limit=10, session="s1")
    for conn in (ended, other_tab, someone):
        await hub.attach(conn, room.key)
    await bus.publish(session_ended("ann", "s1"))
    await asyncio.wait_for(ended.closing.wait(), 2)
    assert ended.close_code == 1008
    assert not other_tab.closing.is_set() and not someone.closing.is_set()
    await bus.publish(session_ended("ann"))  # every session of ann's
    await asyncio.wait_for(other_tab.closing.wait(), 2)
    await hub.stop()
    assert not someone.closing.is_set()


async def test_a_socket_attaching_just_after_its_session_ended_is_closed() -> None:
    """Its handshake read the session just before the sign-out; the event was handled
    before the socket attached: the hub remembers ended sessions a while."""
    room = Room(0)
    hub, bus = await started_hub(room)
    await bus.publish(session_ended("ann", "s1"))
    async with asyncio.timeout(2):
        while not hub._ended:  # until the hub's task handled the event
            await asyncio.sleep(0)
    late = Connection("ann", "html", limit=10, session="s1")
    other = Connection("ann", "html", limit=10, session="s2")
    await hub.attach(late, room.key)
    await hub.attach(other, room.key)
    await hub.stop()
    assert late.closing.is_set() and late.close_code == 1008
    assert not other.closing.is_set()


async def test_a_room_crowded_here_gets_its_presence_pushed_less_often() -> None:
    room = Room(0)
    bus = LocalBus()
    hub = Hub(
        bus,
        render_seq,
        room.top,
        room.read,
        no_presence,
        gap_repair_seconds=5,
        presence_debounce_seconds=0.5,
        presence_push_sockets=2,
    )
    await hub.start()
    assert hub._presence_delay(room.key) == 0.5  # nobody here
    for i in range(2):
        await hub.attach(Connection(f"u{i}", "html", limit=10), room.key)
    assert hub._presence_delay(room.key) == 0.5
    for i in range(2, 6):
        await hub.attach(Connection(f"u{i}", "html", limit=10), room.key)
    assert hub._presence_delay(room.key) == 1.5  # 6 sockets, 3 x the level
    hub.presence_sockets = 0
    assert hub._presence_delay(room.key) == 0.5
    await hub.stop()


async def test_subscribing_to_one_room_does_not_hold_up_another() -> None:
    """A page socket joins all its user's rooms: one slow subscription must not make every
    other room of the instance wait."""
    slow, fast = Room(0), Room(0)
    release = asyncio.Event()

    class SlowBus(LocalBus):
        async def subscribe(self, room: str) -> None:
            if room == slow.key:
                await release.wait()
            await super().subscribe(room)

    async def top(room: str) -> int:
        return 0

    hub = Hub(SlowBus(), render_seq, top, fast.read, no_presence, gap_repair_seconds=5)
    await hub.start()
    waiting = asyncio.create_task(hub.attach(Connection("a", "html", limit=10), slow.key))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(hub.attach(Connection("b", "html", limit=10), fast.key), 1)
    assert fast.key in hub.rooms and slow.key not in hub.rooms
    release.set()
    await waiting
    assert slow.key in hub.rooms
    await hub.stop()
