"""The Redis bus against the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tac.bus.redis import RedisBus, redis_client
from tac.events import POSTED, Event
from tests.waiting import wait_until

REDIS_URL = "redis://127.0.0.1:6379/0"


class Inbox:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.repairs = 0
        self.arrived = asyncio.Event()

    def deliver(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.set()

    def repair(self) -> None:
        self.repairs += 1

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[Event]:
        async with asyncio.timeout(seconds):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events


@pytest.fixture(params=[False, True], ids=["redis", "cluster-sharded"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RedisBus, RedisBus, Inbox]]:
    cluster: bool = request.param
    url = request.getfixturevalue("redis_cluster_url") if cluster else REDIS_URL
    prefix = f"tac-test-{secrets.token_hex(4)}"
    a = RedisBus(url, prefix, cluster=cluster, name="a")
    b = RedisBus(url, prefix, cluster=cluster, name=f"b-{secrets.token_hex(3)}")
    inbox = Inbox()
    await a.start(lambda e: None, lambda: None)
    await b.start(inbox.deliver, inbox.repair)
    await asyncio.wait_for(b.connected.wait(), 5)
    yield a, b, inbox
    await a.stop()
    await b.stop()


async def test_an_event_published_on_one_instance_reaches_a_subscriber_of_its_room(
    buses: tuple[RedisBus, RedisBus, Inbox],
) -> None:
    a, b, inbox = buses
    await b.subscribe("room1")
    await a.publish(Event(POSTED, "room2", 1, user="x"))  # nobody on b listens to room2
    await a.publish(Event(POSTED, "room1", 1, user="m1"))
    events = await inbox.wait_for(1)
    assert events == [Event(POSTED, "room1", 1, user="m1")]


async def test_after_unsubscribe_nothing_arrives(buses: tuple[RedisBus, RedisBus, Inbox]) -> None:
    a, b, inbox = buses
    await b.subscribe("room1")
    await b.unsubscribe("room1")
    await a.publish(Event(POSTED, "room1", 1, user="m1"))
    # Subscribed again, on the same connection: had m1 been sent to b, it would come before m2.
    await b.subscribe("room1")
    await a.publish(Event(POSTED, "room1", 2, user="m2"))
    assert await inbox.wait_for(1) == [Event(POSTED, "room1", 2, user="m2")]


async def test_a_cut_connection_comes_back_resubscribed_and_asks_for_repair(
    buses: tuple[RedisBus, RedisBus, Inbox],
) -> None:
    a, b, inbox = buses
    await b.subscribe("room1")
    await cut_listener(b)
    await wait_until(
        lambda: inbox.repairs > 0 and b.connected.is_set(),
        what="b reconnected and asked for repair",
    )
    assert b.reconnects == 1
    await a.publish(Event(POSTED, "room1", 2, user="m2"))
    events = await inbox.wait_for(1)
    assert events[-1].seq == 2


async def cut_listener(bus: RedisBus) -> None:
    """Kill only this bus's pub/sub connections, not other users of the shared Redis."""
    client = redis_client(bus.url, bus.cluster)
    if bus.cluster:
        await client.initialize()
    nodes = client.get_nodes() if bus.cluster else [None]
    for node in nodes:
        conn = aioredis.Redis(host=node.host, port=node.port) if node else client
        for entry in await conn.client_list(_type="pubsub"):
            if entry["name"] == bus.listener_name:
                await conn.client_kill_filter(_id=entry["id"])
        if node:
            await conn.aclose()
    await client.aclose()


async def test_rooms_spread_over_shards_each_reach_their_subscriber(
    buses: tuple[RedisBus, RedisBus, Inbox],
) -> None:
    a, b, inbox = buses
    rooms = [f"room{i}" for i in range(12)]
    for room in rooms:
        await b.subscribe(room)
    for room in rooms:
        await a.publish(Event(POSTED, room, 1, user=room))
    events = await inbox.wait_for(len(rooms))
    assert sorted(e.room for e in events) == sorted(rooms)


async def test_publish_with_redis_unreachable_does_not_raise() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", "tac-test-down")
    await bus.publish(Event(POSTED, "room1", 1, user="m1"))
    assert not await bus.ping()
    await bus.stop()


async def test_a_pooled_connection_killed_by_redis_is_replaced_at_once() -> None:
    """After Redis restarts every pooled connection is dead: the next call reconnects at
    once instead of failing, or waiting out seconds of backoff."""
    name = f"tac-test-pool-{secrets.token_hex(4)}"
    client = redis_client(REDIS_URL, False, client_name=name)
    admin = aioredis.from_url(REDIS_URL)
    try:
        await client.set(f"{name}:k", "v", ex=60)
        killed = 0
        for line in (await admin.execute_command("CLIENT", "LIST")).decode().splitlines():
            fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
            if fields.get("name") == name:
                await admin.execute_command("CLIENT", "KILL", "ID", fields["id"])
                killed += 1
        assert killed >= 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await client.get(f"{name}:k") == b"v"
        assert loop.time() - started < 0.5
    finally:
        await client.aclose()
        await admin.aclose()
