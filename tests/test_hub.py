"""The hub's fan-out: one render per event, slow sockets closed, not waited for."""

from __future__ import annotations

import asyncio

import pytest
from beanie import PydanticObjectId

from tac.bus.local import LocalBus
from tac.chat.events import POSTED, Event
from tac.hub import Connection, Hub
from tac.models import Message, StoredMessage


class FarEnd:
    """What a connection sends, frame by frame: its writer runs with this as the socket."""

    def __init__(self, conn: Connection) -> None:
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self.writer = asyncio.create_task(conn.write(self.send))

    async def send(self, frame: str) -> None:
        self.received.put_nowait(frame)

    async def next(self, seconds: float = 2.0) -> str:
        return await asyncio.wait_for(self.received.get(), seconds)


async def test_a_full_queue_closes_the_slow_socket_with_1013() -> None:
    conn = Connection("u", "html", limit=2)
    conn.push(("r", 1, "a"))
    conn.push(("r", 2, "b"))
    assert not conn.closing.is_set()
    conn.push(("r", 3, "c"))
    assert conn.closing.is_set() and conn.close_code == 1013


async def test_writer_sends_everything_waiting_as_one_frame_and_drops_caught_up() -> None:
    conn = Connection("u", "html", limit=10)
    conn.catchup["r"] = 2
    for seq, text in [(1, "<a/>"), (2, "<b/>"), (3, "<c/>"), (0, "<note/>")]:
        conn.push(("r", seq, text))
    assert await FarEnd(conn).next() == "<c/><note/>"


async def test_json_frames_carry_one_event_per_line() -> None:
    conn = Connection("u", "json", limit=10)
    conn.push(("r", 1, '{"a":1}'))
    conn.push(("r", 2, '{"b":2}'))
    assert await FarEnd(conn).next() == '{"a":1}\n{"b":2}'


async def test_a_send_that_must_wait_is_finished_by_the_writer_and_the_rest_follows() -> None:
    """Most sends complete at once, in the flushing task; one that waits (a full socket
    buffer) is finished by the socket's writer, and what queued meanwhile goes as one frame."""
    conn = Connection("u", "html", limit=10)
    sent: list[str] = []
    buffer_full = asyncio.Event()
    buffer_full.set()

    async def send(frame: str) -> None:
        await buffer_full.wait()
        sent.append(frame)

    writer = asyncio.create_task(conn.write(send))
    await asyncio.sleep(0)
    conn.push(("r", 1, "<a/>"))
    conn.flush()
    assert sent == ["<a/>"]  # done in this step: no task switch
    buffer_full.clear()
    conn.push(("r", 2, "<b/>"))
    conn.flush()
    assert sent == ["<a/>"] and conn.stalled is not None
    for seq, text in [(3, "<c/>"), (4, "<d/>")]:
        conn.push(("r", seq, text))
        conn.flush()  # waits behind the stalled send
    buffer_full.set()
    async with asyncio.timeout(2):
        while len(sent) < 3:
            await asyncio.sleep(0.01)
    assert sent == ["<a/>", "<b/>", "<c/><d/>"] and conn.stalled is None
    conn.push(("r", 5, "<e/>"))
    conn.flush()
    assert sent[-1] == "<e/>"
    writer.cancel()


async def test_a_stalled_send_is_cancelled_with_its_socket() -> None:
    conn = Connection("u", "html", limit=10)
    cancelled = asyncio.Event()

    async def send(frame: str) -> None:
        try:
            await asyncio.Event().wait()  # never sent
        except asyncio.CancelledError:
            cancelled.set()
            raise

    writer = asyncio.create_task(conn.write(send))
    await asyncio.sleep(0)
    conn.push(("r", 1, "<a/>"))
    conn.flush()
    await asyncio.sleep(0.01)  # the writer now waits on the stalled send
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert cancelled.is_set() and conn.send is None


async def test_a_slow_socket_is_closed_and_the_others_still_get_every_message(app: object) -> None:
    from tac.bus.local import LocalBus
    from tac.chat.events import POSTED, Event
    from tac.chat.messages import latest
    from tac.hub import Hub
    from tests.chat.test_messages import room_with_messages

    room = await room_with_messages(5)
    messages = await latest(room, 5)
    rendered: list[int] = []

    def render(event: Event, payload: object, fmt: str) -> str:
        rendered.append(event.seq)
        return f"<m{event.seq}/>"

    async def top(room_id: str) -> int:
        return 0

    async def no_presence(room_id: str) -> None:
        return None

    bus = LocalBus()
    hub = Hub(bus, render, top, no_presence, gap_repair_seconds=5)
    await hub.start()
    fast, slow = Connection("f", "html", limit=100), Connection("s", "html", limit=2)
    for conn in (fast, slow):
        await hub.attach(conn, str(room.id))
    fast_end = FarEnd(fast)  # the slow one's writer never runs: its queue only fills
    for m in messages:
        await bus.publish(Event(POSTED, str(room.id), m.seq, str(m.id)))
    frame = await fast_end.next()
    await hub.stop()
    assert frame == "".join(f"<m{i}/>" for i in range(1, 6))
    assert slow.close_code == 1013
    assert rendered == [1, 2, 3, 4, 5]  # once per event, not once per socket


async def test_sockets_arriving_together_in_a_new_room_all_get_its_messages(app: object) -> None:
    from tac.bus.local import LocalBus
    from tac.chat.events import POSTED, Event
    from tac.chat.messages import latest
    from tac.hub import Hub
    from tests.chat.test_messages import room_with_messages

    room = await room_with_messages(1)
    [message] = await latest(room, 1)

    async def slow_top(room_id: str) -> int:
        await asyncio.sleep(0.01)  # the others arrive while the first reads the room
        return 0

    async def no_presence(room_id: str) -> None:
        return None

    bus = LocalBus()
    hub = Hub(bus, lambda e, p, f: f"<m{e.seq}/>", slow_top, no_presence, gap_repair_seconds=5)
    await hub.start()
    conns = [Connection(f"u{i}", "html", limit=10) for i in range(5)]
    await asyncio.gather(*(hub.attach(c, str(room.id)) for c in conns))
    ends = [FarEnd(c) for c in conns]
    await bus.publish(Event(POSTED, str(room.id), message.seq, str(message.id)))
    frames = [await end.next() for end in ends]
    await hub.stop()
    assert frames == ["<m1/>"] * 5


async def _hub_with_messages(
    count: int, gap_seconds: float, coalesce_seconds: float = 0.0
) -> tuple[Hub, LocalBus, list[StoredMessage]]:
    from tac.chat.messages import latest
    from tests.chat.test_messages import room_with_messages

    room = await room_with_messages(count)

    async def top(room_id: str) -> int:
        return 0

    async def no_presence(room_id: str) -> None:
        return None

    bus = LocalBus()
    hub = Hub(
        bus,
        lambda e, p, f: f"<m{e.seq}/>",
        top,
        no_presence,
        gap_repair_seconds=gap_seconds,
        coalesce_seconds=coalesce_seconds,
    )
    await hub.start()
    return hub, bus, await latest(room, count)


async def _publish(bus: LocalBus, *messages: StoredMessage) -> None:
    """As post_message publishes: the event carries the message."""
    from tac.chat.messages import posted

    for m in messages:
        await bus.publish(posted(m))


async def test_a_lost_message_is_read_back_and_delivered_after_the_gap_delay(
    app: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tac.chat.messages

    reads_by_id: list[list[str]] = []
    real = tac.chat.messages.messages_by_ids

    async def counting(ids: list[str]) -> dict[str, Message]:
        reads_by_id.append(ids)
        return await real(ids)

    monkeypatch.setattr(tac.chat.messages, "messages_by_ids", counting)
    hub, bus, messages = await _hub_with_messages(3, gap_seconds=0.05)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, str(messages[0].room))
    await _publish(bus, messages[0], messages[2])  # the bus lost seq 2
    end = FarEnd(conn)
    got = await end.next()
    if "<m2/>" not in got:
        got += await end.next()
    await hub.stop()
    assert got == "<m1/><m3/><m2/>"
    assert reads_by_id == []  # the repair's range read is the only read


async def test_a_gap_that_fills_by_itself_costs_no_read(
    app: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tac.hub

    reads: list[tuple[int, int]] = []
    real = tac.hub.messages_between

    async def counting(room: PydanticObjectId | None, low: int, high: int) -> list[StoredMessage]:
        reads.append((low, high))
        return await real(room, low, high)

    monkeypatch.setattr(tac.hub, "messages_between", counting)
    hub, bus, messages = await _hub_with_messages(3, gap_seconds=0.05)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, str(messages[0].room))
    await _publish(bus, messages[0], messages[2], messages[1])  # out of order, none lost
    await asyncio.sleep(0.2)
    await hub.stop()
    assert reads == []
    assert [seq for _, seq, _ in conn.pending] == [1, 3, 2]


async def test_a_busy_room_gets_the_coalesce_windows_messages_in_one_frame(app: object) -> None:
    hub, bus, messages = await _hub_with_messages(3, gap_seconds=5, coalesce_seconds=0.2)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, str(messages[0].room))
    end = FarEnd(conn)
    await _publish(bus, messages[0])
    first = await end.next(1)  # quiet until now: no delay
    for m in messages[1:]:
        await _publish(bus, m)
        await asyncio.sleep(0.02)
    second = await end.next(1)
    await hub.stop()
    assert (first, second) == ("<m1/>", "<m2/><m3/>")


async def test_a_posted_event_carries_its_message_and_costs_no_read(
    app: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tac.chat.messages
    from tac.chat.messages import posted

    reads: list[list[str]] = []
    real = tac.chat.messages.messages_by_ids

    async def counting(ids: list[str]) -> dict[str, Message]:
        reads.append(ids)
        return await real(ids)

    monkeypatch.setattr(tac.chat.messages, "messages_by_ids", counting)
    hub, bus, messages = await _hub_with_messages(2, gap_seconds=5)
    conn = Connection("u", "html", limit=10)
    await hub.attach(conn, str(messages[0].room))
    end = FarEnd(conn)
    stored = await Message.get(messages[0].id)  # the document post_message publishes
    assert stored is not None
    carried = posted(stored)
    assert Event.decode(carried.encode()) == carried  # as it crosses Redis
    await bus.publish(carried)
    assert await end.next() == "<m1/>"
    assert reads == []
    bare = messages[1]  # published by an instance that does not carry messages
    await bus.publish(Event(POSTED, str(bare.room), bare.seq, str(bare.id)))
    assert await end.next() == "<m2/>"
    await hub.stop()
    assert reads == [[str(bare.id)]]
