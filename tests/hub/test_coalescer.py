"""Batches: at once when quiet, one per window while busy."""

from __future__ import annotations

import asyncio

from tac.events import PRESENCE, Event
from tac.hub.coalescer import Coalescer, LoadWindow


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


def steady(window: LoadWindow, per_second: float, seconds: float, batches_per_second: int) -> float:
    """Feed `per_second` deliveries for `seconds`, in even batches; the last window."""
    step = 1 / batches_per_second
    now, last = 0.0, window.base
    while now < seconds:
        now += step
        last = window.observe(round(per_second * step), now)
    return last


def test_the_window_stays_small_while_the_load_is_light() -> None:
    window = LoadWindow(base=0.025, most=0.25, busy=12_000)
    assert steady(window, 10_000, 5, 10) == 0.025  # 1,000 sockets, 10 messages/s
    assert 9_000 < window.rate < 11_000


def test_the_window_widens_with_the_load_and_stops_at_its_widest() -> None:
    window = LoadWindow(base=0.025, most=0.25, busy=12_000)
    at_40 = steady(window, 40_000, 5, 40)  # 1,000 sockets, 40 messages/s
    assert 0.12 < at_40 < 0.18  # about six messages a frame
    assert steady(LoadWindow(0.025, 0.25, 12_000), 200_000, 5, 40) == 0.25


def test_the_window_narrows_again_when_the_load_falls() -> None:
    window = LoadWindow(base=0.025, most=0.25, busy=12_000)
    steady(window, 40_000, 5, 40)
    assert window.observe(1_000, 5 + 10) == 0.025  # ten quiet seconds later


def test_without_a_busy_level_the_window_never_changes() -> None:
    window = LoadWindow(base=0.025, most=0.25, busy=0)
    assert steady(window, 1_000_000, 2, 40) == 0.025
