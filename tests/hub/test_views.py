"""A page's one socket in the hub: its open room's messages whole, the others as badges
coalesced to one update per room per interval, cleared by a read anywhere. No app, no
database: messages in memory."""

from __future__ import annotations

import asyncio
import re

from tac.bus.local import LocalBus
from tac.events import UNREAD, Event, posted, room_read
from tac.hub import Badge, Connection, Hub, RoomUnread, View
from tests.hub.fakes import FarEnd, Room, no_presence

INTERVAL = 0.3


def render(event: Event, payload: object, fmt: str) -> str:
    if event.kind == UNREAD and isinstance(payload, Badge):
        return f"<badge {payload.room[-4:]}={payload.count}/>"
    return f"<m{event.seq}/>"


async def page_on(
    rooms: list[Room], open_room: Room, user: str = "me"
) -> tuple[Hub, LocalBus, Connection, FarEnd]:
    bus = LocalBus()
    hub = Hub(
        bus, render, rooms[0].top, rooms[0].read, no_presence, 5, badge_interval_seconds=INTERVAL
    )
    await hub.start()
    conn = Connection(user, "html", limit=100)
    for room in rooms:
        await hub.attach(conn, room.key)
    hub.show(conn, View(open=open_room.key, unread={r.key: RoomUnread(read=0) for r in rooms}))
    return hub, bus, conn, FarEnd(conn)


async def frames_for(end: FarEnd, seconds: float) -> list[str]:
    got: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                got.append(await end.received.get())
    except TimeoutError:
        return got


async def test_other_rooms_raise_a_badge_at_most_once_per_interval_the_open_room_goes_whole() -> (
    None
):
    shown, busy = Room(3), Room(20)
    hub, bus, _, end = await page_on([shown, busy], shown)
    for message in busy.messages:
        await bus.publish(posted(message))
    await bus.publish(posted(shown.messages[0]))
    got = await frames_for(end, 2.5 * INTERVAL)
    await hub.stop()
    badges = re.findall(r"<badge [^>]*/>", "".join(got))
    assert 1 <= len(badges) <= 3  # twenty messages: at once, then once per interval
    assert badges[-1] == f"<badge {busy.key[-4:]}=20/>"
    assert "<m1/>" in "".join(got)  # the open room's message itself
    assert "<m2/>" not in "".join(got)  # none of the busy room's messages


async def test_a_read_anywhere_clears_the_badge() -> None:
    shown, other = Room(1), Room(4)
    hub, bus, _, end = await page_on([shown, other], shown)
    for message in other.messages[:3]:
        await bus.publish(posted(message))
    await asyncio.sleep(2 * INTERVAL)
    await bus.publish(room_read(other.key, "me", 3))
    await asyncio.sleep(2 * INTERVAL)
    await bus.publish(posted(other.messages[3]))
    got = await frames_for(end, 2.5 * INTERVAL)
    await hub.stop()
    badges = re.findall(r"<badge [^>]*/>", "".join(got))
    key = other.key[-4:]
    assert badges == [f"<badge {key}=3/>", f"<badge {key}=0/>", f"<badge {key}=1/>"]


async def test_ones_own_messages_raise_no_badge() -> None:
    shown, other = Room(1), Room(3)
    author = str(other.messages[0].author)
    hub, bus, _, end = await page_on([shown, other], shown, user=author)
    for message in other.messages:
        await bus.publish(posted(message))
    got = await frames_for(end, 2 * INTERVAL)
    await hub.stop()
    assert "badge" not in "".join(got)


def test_room_unread_counts_what_the_database_counted_and_what_came_since() -> None:
    unread = RoomUnread(read=0)
    assert unread.posted(11, cap=999)  # seen live before the count was read
    unread.counted(read=5, base=4, top=10, mentions=1)  # the database: 4 unread up to 10
    assert (unread.count, unread.mentions) == (5, 1)
    assert not unread.posted(9, cap=999)  # counted already
    assert unread.posted(12, cap=999, mentioned=True)
    assert (unread.count, unread.mentions) == (6, 2)
    assert unread.read_up_to(11)
    assert (unread.count, unread.mentions) == (1, 1)
    assert not unread.read_up_to(3)  # never back
    capped = RoomUnread(read=0)
    for seq in range(1, 6):
        capped.posted(seq, cap=3)
    assert capped.count == 3
