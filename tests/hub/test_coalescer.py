"""Batches: at once when quiet, one per window while busy."""

from __future__ import annotations

import asyncio

from tac.events import PRESENCE, Event
from tac.hub.coalescer import Coalescer


async def test_a_quiet_event_goes_at_once_and_a_busy_window_goes_as_one_batch() -> None:
    coalescer = Coalescer(window_seconds=0.2)
    batches = coalescer.batches()
    loop = asyncio.get_running_loop()
    coalescer.put(Event(PRESENCE, "a"))
    start = loop.time()
    assert [e.room for e in await anext(batches)] == ["a"]
    assert loop.time() - start < 0.1
    for room in ("b", "c"):
        coalescer.put(Event(PRESENCE, room))
    second = await anext(batches)
    assert [e.room for e in second] == ["b", "c"]
    assert loop.time() - start >= 0.19  # held until the window was over


async def test_without_a_window_each_wakeup_takes_what_arrived() -> None:
    coalescer = Coalescer(window_seconds=0.0)
    batches = coalescer.batches()
    coalescer.put(Event(PRESENCE, "a"))
    coalescer.put(Event(PRESENCE, "b"))
    assert [e.room for e in await anext(batches)] == ["a", "b"]
