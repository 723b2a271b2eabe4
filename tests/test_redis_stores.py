"""Presence marks and rate limits in real Redis, and in a real Redis Cluster."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tac.bus.redis import redis_client
from tac.redis_stores import RedisPresenceStore, RedisRateLimiter


@pytest.fixture(params=[False, True], ids=["redis", "cluster"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    cluster: bool = request.param
    url = request.getfixturevalue("redis_cluster_url") if cluster else "redis://127.0.0.1:6379/0"
    client = redis_client(url, cluster)
    yield client
    await client.aclose()


async def test_presence_marks_expire_and_sweep(client: Any) -> None:
    store = RedisPresenceStore(client, f"tac-test-{secrets.token_hex(4)}")
    now = time.time()
    await store.mark("room", "u1/a", now + 30)
    await store.mark("room", "u2/b", now - 1)
    assert await store.members("room", now) == {"u1/a"}
    assert await store.sweep("room", now) == 1
    await store.unmark("room", "u1/a")
    assert await store.members("room", now) == set()


async def test_rate_limit_is_shared_and_says_when_to_retry(client: Any) -> None:
    prefix = f"tac-test-{secrets.token_hex(4)}"
    one = RedisRateLimiter(client, prefix, limit=3, window=30)
    other = RedisRateLimiter(client, prefix, limit=3, window=30)  # another instance
    assert [
        await one.retry_after("u"),
        await other.retry_after("u"),
        await one.retry_after("u"),
    ] == [0, 0, 0]
    wait = await other.retry_after("u")
    assert 0 < wait <= 30
    assert await one.retry_after("someone else") == 0
