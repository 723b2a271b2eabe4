"""Chaos in make test: people post while Redis restarts and an instance is SIGKILLed.

The longer run with the rate as a parameter is `make chaos` (ops/chaos.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.chaos import make_stack, run_chaos
from tests.stack.conftest import need_programs

pytestmark = pytest.mark.stack


@pytest.mark.timeout(150)
async def test_through_redis_restart_and_a_killed_instance_every_view_is_the_stored_room(
    tmp_path: Path,
) -> None:
    """50 clients post ~30 messages/s over their sockets for 20 s, reconnecting as the page
    does (from the seq up to which they hold everything); Redis restarts at 5 s, instance 1
    is killed at 10 s and started again at 13 s. Every client ends with exactly the stored
    messages, every acknowledged post among them, each stored once."""
    need_programs()
    stack = make_stack(tmp_path / "chaos")
    stack.start()
    try:
        report = await run_chaos(stack, clients=50, rate=30, seconds=20, settle=40)
    finally:
        stack.stop()
    assert report.problems == [], report.summary()
    assert report.acked == report.posted and report.stored
    assert report.connects > 50  # the kill made clients reconnect
