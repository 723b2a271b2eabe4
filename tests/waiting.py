"""Waiting on a condition instead of sleeping for a while.

A test that sleeps guesses how long something takes: too short on a busy machine (flaky),
too long everywhere else (slow). These poll the condition itself at a short interval and
give up only at a generous deadline, failing with what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

INTERVAL = 0.02


class WaitTimeout(AssertionError):
    """The awaited condition did not hold before the deadline (a test failure)."""


def describe(condition: Callable[..., Any], what: str | None) -> str:
    if what:
        return what
    name = getattr(condition, "__qualname__", "")
    if name and "<lambda>" not in name:
        return name
    try:
        return " ".join(inspect.getsource(condition).split())
    except (OSError, TypeError):
        return repr(condition)


def failure(what: str, timeout: float, last: object, error: BaseException | None) -> WaitTimeout:
    seen = f"last error {error!r}" if error is not None else f"last value {last!r}"
    return WaitTimeout(f"timed out after {timeout}s waiting until {what} ({seen[:300]})")


async def wait_until(
    condition: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = INTERVAL,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `condition` (plain or async) until it returns something truthy, and return that.

    Exceptions of the `ignore` types count as "not yet" (a server still starting, say).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            last = condition()
            if inspect.isawaitable(last):
                last = await last
            error = None
        except ignore as e:
            last, error = None, e
        if last:
            return last  # type: ignore[no-any-return]
        if loop.time() >= deadline:
            raise failure(describe(condition, what), timeout, last, error)
        await asyncio.sleep(interval)


def wait_until_sync(
    condition: Callable[[], T],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = INTERVAL,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """`wait_until` for code without an event loop (fixtures starting processes)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            last = condition()
            error = None
        except ignore as e:
            last, error = None, e
        if last:
            return last  # type: ignore[no-any-return]
        if time.monotonic() >= deadline:
            raise failure(describe(condition, what), timeout, last, error)
        time.sleep(interval)
