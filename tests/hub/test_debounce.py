"""A wave of requests for one room's update makes one update."""

from __future__ import annotations

import asyncio

from tac.hub.debounce import Debounce
from tac.hub.tasks import Tasks


async def test_requests_within_the_delay_make_one_action_per_room() -> None:
    done: list[str] = []
    both = asyncio.Event()

    async def action(room: str) -> None:
        done.append(room)
        if len(done) == 2:
            both.set()

    tasks = Tasks()
    debounce = Debounce(0.05, action, tasks)
    for room in ["r", "r", "s", "r"]:
        debounce.soon(room)
    await asyncio.wait_for(both.wait(), 2)
    assert sorted(done) == ["r", "s"]
    debounce.soon("r")  # after the update: a new one
    await asyncio.wait_for(_until(lambda: len(done) == 3), 2)
    await tasks.cancel_all()


async def test_stopping_cancels_updates_still_due() -> None:
    done: list[str] = []

    async def action(room: str) -> None:
        done.append(room)

    tasks = Tasks()
    Debounce(10, action, tasks).soon("r")
    assert len(tasks) == 1
    await tasks.cancel_all()
    assert done == [] and len(tasks) == 0


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.005)
