"""A socket's send side: bounded queue, whole frames, and the three paths of a send."""

from __future__ import annotations

import asyncio

import pytest

from tac.hub.connection import Connection
from tests.hub.fakes import FarEnd


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


async def test_a_send_that_completes_at_once_is_done_in_the_flushing_step() -> None:
    conn = Connection("u", "html", limit=10)
    sent: list[str] = []

    async def send(frame: str) -> None:
        sent.append(frame)

    writer = asyncio.create_task(conn.write(send))
    await asyncio.sleep(0)  # the writer hands over its sender
    conn.push(("r", 1, "<a/>"))
    conn.flush()
    assert sent == ["<a/>"] and conn.stalled is None and not conn.wake.is_set()
    writer.cancel()


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
    waiting = asyncio.Event()

    async def send(frame: str) -> None:
        try:
            waiting.set()
            await asyncio.Event().wait()  # never sent
        except asyncio.CancelledError:
            cancelled.set()
            raise

    writer = asyncio.create_task(conn.write(send))
    await asyncio.sleep(0)
    conn.push(("r", 1, "<a/>"))
    conn.flush()
    assert waiting.is_set() and conn.stalled is not None
    await asyncio.sleep(0)  # the writer takes the stalled send over
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert cancelled.is_set() and conn.send is None


async def test_a_socket_closed_while_a_send_waits_closes_that_send_without_sending() -> None:
    """The socket's owner ends the writer before the stalled send ever ran on: the send's
    coroutine is closed (no 'never awaited' warning, nothing sent), and later flushes are
    no-ops."""
    conn = Connection("u", "html", limit=10)
    sent: list[str] = []
    never = asyncio.Event()

    async def send(frame: str) -> None:
        await never.wait()
        sent.append(frame)

    writer = asyncio.create_task(conn.write(send))
    await asyncio.sleep(0)
    conn.push(("r", 1, "<a/>"))
    conn.flush()
    step = conn.stalled
    assert step is not None
    writer.cancel()  # the socket closes before the writer ran again
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert step[0].cr_frame is None  # the stalled coroutine is finished, not left suspended
    conn.push(("r", 2, "<b/>"))
    conn.flush()
    assert sent == [] and conn.send is None


async def test_a_send_that_fails_at_once_closes_the_socket_with_1011() -> None:
    conn = Connection("u", "html", limit=10)

    async def send(frame: str) -> None:
        raise ConnectionResetError("peer gone")

    writer = asyncio.create_task(conn.write(send))
    await asyncio.sleep(0)
    conn.push(("r", 1, "<a/>"))
    conn.flush()
    assert conn.closing.is_set() and conn.close_code == 1011
    writer.cancel()
