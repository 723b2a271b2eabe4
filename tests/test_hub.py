"""The hub's fan-out: one render per event, slow sockets closed, not waited for."""

from __future__ import annotations

import asyncio

from tac.hub import Connection


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
    frames = conn.frames()
    assert await asyncio.wait_for(anext(frames), 1) == "<c/><note/>"


async def test_json_frames_carry_one_event_per_line() -> None:
    conn = Connection("u", "json", limit=10)
    conn.push(("r", 1, '{"a":1}'))
    conn.push(("r", 2, '{"b":2}'))
    assert await asyncio.wait_for(anext(conn.frames()), 1) == '{"a":1}\n{"b":2}'
