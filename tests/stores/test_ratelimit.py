"""One rate-limit behaviour, in this process, in real Redis and in a real Redis Cluster."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tac.bus.redis import redis_client
from tac.embedded import free_port
from tac.stores.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from tests.stores.conftest import WHERE, redis_for

MakeLimiter = Callable[[int, float], RateLimiter]


@pytest.fixture(params=WHERE)
async def make_limiter(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Any]:
    if request.param == "local":
        yield LocalRateLimiter
        return
    async with redis_for(request, request.param, key_prefix) as client:
        yield lambda limit, window: RedisRateLimiter(client, key_prefix, limit, window)


@pytest.fixture(params=["redis", "cluster"])
async def client(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Any]:
    async with redis_for(request, request.param, key_prefix) as client:
        yield client


def key() -> str:
    return f"user-{secrets.token_hex(4)}"


async def test_the_hit_over_the_limit_waits_at_most_the_window(make_limiter: MakeLimiter) -> None:
    limiter, k = make_limiter(3, 30), key()
    assert [await limiter.retry_after(k) for _ in range(3)] == [0, 0, 0]
    wait = await limiter.retry_after(k)
    assert 0 < wait <= 30


async def test_hits_leave_the_window_and_posting_works_again(make_limiter: MakeLimiter) -> None:
    limiter, k = make_limiter(2, 0.3), key()
    assert await limiter.retry_after(k) == 0
    assert await limiter.retry_after(k) == 0
    assert await limiter.retry_after(k) > 0
    await asyncio.sleep(0.35)
    assert await limiter.retry_after(k) == 0


async def test_keys_are_independent(make_limiter: MakeLimiter) -> None:
    limiter, one, other = make_limiter(1, 30), key(), key()
    assert await limiter.retry_after(one) == 0
    assert await limiter.retry_after(one) > 0
    assert await limiter.retry_after(other) == 0


async def test_a_refused_hit_is_not_counted(make_limiter: MakeLimiter) -> None:
    """The window slides from the allowed hit, not from the refused ones after it."""
    limiter, k = make_limiter(1, 0.6), key()
    assert await limiter.retry_after(k) == 0
    await asyncio.sleep(0.3)
    for _ in range(3):
        wait = await limiter.retry_after(k)
        assert 0 < wait <= 0.35  # counted from the hit 0.3 s ago, not the full window
    await asyncio.sleep(0.35)
    assert await limiter.retry_after(k) == 0  # the refused hits 0.35 s ago do not count


async def test_rate_limit_is_shared_and_says_when_to_retry(client: Any, key_prefix: str) -> None:
    one = RedisRateLimiter(client, key_prefix, limit=3, window=30)
    other = RedisRateLimiter(client, key_prefix, limit=3, window=30)  # another instance
    k = key()
    assert [
        await one.retry_after(k),
        await other.retry_after(k),
        await one.retry_after(k),
    ] == [0, 0, 0]
    wait = await other.retry_after(k)
    assert 0 < wait <= 30
    assert await one.retry_after(f"someone else {k}") == 0


async def test_hits_expire_from_redis_with_the_window(client: Any, key_prefix: str) -> None:
    limiter, k = RedisRateLimiter(client, key_prefix, limit=5, window=30), key()
    await limiter.retry_after(k)
    assert 29_000 < await client.pttl(limiter.key(k)) <= 30_000


async def test_with_redis_away_everyone_may_post() -> None:
    away = redis_client(f"redis://127.0.0.1:{free_port()}/0", False, socket_connect_timeout=1)
    try:
        limiter = RedisRateLimiter(away, "tac-test-away", limit=1, window=30)
        assert [await limiter.retry_after("u") for _ in range(3)] == [0, 0, 0]
    finally:
        await away.aclose()
