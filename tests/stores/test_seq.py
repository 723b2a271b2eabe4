"""Rooms' counters: in this process, in real Redis and in a real Redis Cluster."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tac.bus.redis import redis_client
from tac.embedded import free_port
from tac.stores.seq import LocalSeqCounter, RedisSeqCounter, SeqCounter
from tests.stores.conftest import WHERE, redis_for


@pytest.fixture(params=WHERE)
async def counter(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Any]:
    if request.param == "local":
        yield LocalSeqCounter()
        return
    async with redis_for(request, request.param, key_prefix) as client:
        yield RedisSeqCounter(client, key_prefix, idle_seconds=600)


def room() -> str:
    return secrets.token_hex(12)


class Floor:
    """A stored top, counting how often the counter had to ask for it."""

    def __init__(self, top: int) -> None:
        self.top = top
        self.asked = 0

    async def __call__(self) -> int:
        self.asked += 1
        return self.top


async def test_a_new_counter_starts_above_what_is_stored_and_asks_once(
    counter: SeqCounter,
) -> None:
    r, floor = room(), Floor(41)
    assert [await counter.take(r, floor) for _ in range(3)] == [42, 43, 44]
    assert floor.asked == 1


async def test_concurrent_posts_never_share_a_seq(counter: SeqCounter) -> None:
    r, floor = room(), Floor(0)
    # First a single call: redis-py 8.1's cluster client fails when 200 calls open their
    # first connections at once (CLIENT SETINFO on a connection not yet made); an
    # instance's client is warm long before its first burst of posts.
    assert await counter.take(r, floor) == 1
    taken = await asyncio.gather(*(counter.take(r, floor) for _ in range(200)))
    assert sorted(taken) == list(range(2, 202))


async def test_rooms_count_apart(counter: SeqCounter) -> None:
    one, other = room(), room()
    assert await counter.take(one, Floor(0)) == 1
    assert await counter.take(other, Floor(10)) == 11
    assert await counter.take(one, Floor(0)) == 2


async def test_raising_moves_the_counter_forward_never_back(counter: SeqCounter) -> None:
    r = room()
    assert await counter.take(r, Floor(0)) == 1
    await counter.raise_to(r, 50)
    assert await counter.take(r, Floor(0)) == 51
    await counter.raise_to(r, 10)
    assert await counter.take(r, Floor(0)) == 52


async def test_a_counter_redis_lost_starts_again_from_the_stored_top(key_prefix: str) -> None:
    client = redis_client("redis://127.0.0.1:6379/0", False)
    try:
        counter, r = RedisSeqCounter(client, key_prefix, idle_seconds=600), room()
        assert await counter.take(r, Floor(0)) == 1
        await client.delete(counter.key(r))  # a Redis restart without persistence
        assert await counter.take(r, Floor(7)) == 8
        assert 0 < await client.ttl(counter.key(r)) <= 600
    finally:
        await client.delete(counter.key(r))
        await client.aclose()


async def test_without_redis_the_seq_is_the_stored_top_plus_one() -> None:
    away = redis_client(f"redis://127.0.0.1:{free_port()}/0", False, socket_connect_timeout=1)
    try:
        counter = RedisSeqCounter(away, "tac-test-away", idle_seconds=600)
        assert await counter.take(room(), Floor(9)) == 10
        await counter.raise_to(room(), 3)  # logs, does not raise
    finally:
        await away.aclose()
