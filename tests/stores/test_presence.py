"""One presence-store behaviour, in this process, in real Redis and in a real Redis Cluster."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tac.stores.presence import LocalPresenceStore, PresenceStore, RedisPresenceStore
from tests.stores.conftest import WHERE, redis_for


@pytest.fixture(params=WHERE)
async def store(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Any]:
    if request.param == "local":
        yield LocalPresenceStore()
        return
    async with redis_for(request, request.param, key_prefix) as client:
        yield RedisPresenceStore(client, key_prefix)


def room() -> str:
    return f"room-{secrets.token_hex(4)}"


async def test_presence_marks_expire_and_sweep(store: PresenceStore) -> None:
    r, now = room(), time.time()
    await store.mark(r, "u1/a", now + 30)
    await store.mark(r, "u2/b", now - 1)
    assert await store.members(r, now) == {"u1/a"}
    assert await store.sweep(r, now) == 1
    await store.unmark(r, "u1/a")
    assert await store.members(r, now) == set()


async def test_marking_again_renews_a_mark(store: PresenceStore) -> None:
    r, now = room(), time.time()
    await store.mark(r, "u1/a", now + 1)
    await store.mark(r, "u1/a", now + 30)
    assert await store.members(r, now + 10) == {"u1/a"}
    assert await store.sweep(r, now + 10) == 0


async def test_unmarking_removes_only_that_mark(store: PresenceStore) -> None:
    r, now = room(), time.time()
    await store.mark(r, "u1/a", now + 30)
    await store.mark(r, "u1/b", now + 30)  # the same person on another instance
    await store.unmark(r, "u1/a")
    await store.unmark(r, "nobody/a")  # unmarking what is not there is fine
    assert await store.members(r, now) == {"u1/b"}


async def test_rooms_are_independent(store: PresenceStore) -> None:
    one, other, now = room(), room(), time.time()
    await store.mark(one, "u1/a", now + 30)
    await store.mark(other, "u2/a", now - 1)
    assert await store.members(one, now) == {"u1/a"}
    assert await store.members(other, now) == set()
    assert await store.sweep(one, now) == 0
    assert await store.sweep(other, now) == 1
    assert await store.members(room(), now) == set()
