"""The stores on real Redis and a real Redis Cluster, under one key prefix per test session."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tac.bus.redis import redis_client

REDIS_URL = "redis://127.0.0.1:6379/0"
WHERE = ["local", "redis", "cluster"]
"""Where a store keeps its data: this process, one Redis, a Redis Cluster."""


@pytest.fixture(scope="session")
def key_prefix() -> str:
    return f"tac-test-{secrets.token_hex(4)}"


@asynccontextmanager
async def redis_for(request: pytest.FixtureRequest, where: str, prefix: str) -> AsyncIterator[Any]:
    """A client for `where` ("redis" or "cluster"); deletes the prefix's keys when done."""
    cluster = where == "cluster"
    url = request.getfixturevalue("redis_cluster_url") if cluster else REDIS_URL
    client = redis_client(url, cluster)
    try:
        yield client
    finally:
        async for key in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()
