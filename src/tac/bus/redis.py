"""The Redis bus: one pub/sub channel per room, subscribed while this instance has listeners.

redis-py's PubSub does not come back by itself after its connection drops, so the
listener owns the connection: on any error it reconnects with backoff, subscribes again
to every room it needs, and asks the hub to repair from MongoDB (events carry seq, so
whatever was published meanwhile is found by range).

With `cluster=True` the bus talks to a Redis Cluster and uses sharded pub/sub
(SSUBSCRIBE/SPUBLISH, Redis 7): a room's channel hashes to one shard and its messages
travel only within that shard, so pub/sub traffic grows with shards instead of being
broadcast to every node. redis-py's ClusterPubSub keeps one connection per shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tac.bus import Deliver, Repair
from tac.events import CONTROL, Event
from tac.metrics import BUS_RECONNECTS

log = logging.getLogger(__name__)

# CONTROL is always subscribed: every instance hears it, and the connection has a
# subscription before any room has one.


POOL_MAX = 200
"""Connections to one Redis (per node of a cluster) that one instance may hold."""
POOL_WAIT_SECONDS = 5
"""How long a call waits for a free connection of a full pool (one Redis)."""


def redis_client(url: str, cluster: bool, **options: Any) -> Any:
    """A client for one Redis, or for a Redis Cluster (which routes each key to its shard).

    After Redis restarts, every pooled connection is dead. redis-py's default retry backs
    off from 1 s up to 10 s, so publishes and rate-limit calls kept failing for up to 14 s
    (the chaos run of issue 10): retry at once on a fresh connection instead, a few times
    with a short jittered backoff.
    """
    options = {
        "max_connections": POOL_MAX,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.25), retries=3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, OSError],
        **options,
    }
    if cluster:
        return RedisCluster.from_url(url, **options)
    # A full pool waits for a free connection: redis-py's default pool raises "Too many
    # connections" at 100 calls in flight (a burst of posts, each taking a seq).
    pool = BlockingConnectionPool.from_url(url, timeout=POOL_WAIT_SECONDS, **options)
    return aioredis.Redis.from_pool(pool)


class RedisBus:
    def __init__(self, url: str, prefix: str, *, cluster: bool = False, name: str = "") -> None:
        self.url = url
        self.prefix = prefix
        self.cluster = cluster
        self.reconnects = 0
        self.connected = asyncio.Event()
        self.listener_name = f"{prefix}:listener:{name or id(self)}"
        """The CLIENT SETNAME of the pub/sub connection, to find it in CLIENT LIST."""
        self._client: Any = redis_client(url, cluster)
        # The listener blocks on reads, so its client has no read timeout; instead it
        # pings when idle (health_check_interval) and so notices a dead connection.
        self._listener: Any = redis_client(
            url,
            cluster,
            socket_timeout=None,
            health_check_interval=5,
            socket_keepalive=True,
            client_name=self.listener_name,
            # No retry inside redis-py: a lost pub/sub connection must reach the listener,
            # which reconnects, subscribes again and asks the hub to repair what it missed.
            retry=Retry(NoBackoff(), retries=0),
            retry_on_error=[],
        )
        self._rooms: set[str] = set()
        self._pubsub: Any = None
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def channel(self, room: str) -> str:
        # The braces make a Redis Cluster hash tag: a room's channel lives on one shard.
        return f"{self.prefix}:room:{{{room}}}"

    # -- lifetime -------------------------------------------------------------------------
    async def start(self, deliver: Deliver, repair: Repair) -> None:
        self._task = asyncio.create_task(self._listen(deliver, repair), name="redis-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_pubsub()
        for client in (self._client, self._listener):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), 2)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._client.ping(), 2))
        except (RedisError, OSError, TimeoutError):
            return False

    # -- publishing -----------------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Never raises: a lost event is found again by seq (gap repair, catch-up)."""
        channel = self.channel(event.room)
        try:
            if self.cluster:
                await self._client.spublish(channel, event.encode())
            else:
                await self._client.publish(channel, event.encode())
        except (RedisError, OSError) as e:
            log.warning("bus: publish to %s failed (%s); readers will repair by seq", channel, e)

    # -- subscriptions --------------------------------------------------------------------
    async def subscribe(self, room: str) -> None:
        self._rooms.add(room)
        channel = self.channel(room)
        if self._pubsub is None or not self.connected.is_set():
            return  # the listener subscribes to every room when it (re)connects
        waiter = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        try:
            await self._send_subscribe(channel)
            # Wait for Redis to confirm: an event published after this is ours.
            await asyncio.wait_for(asyncio.shield(waiter), 2)
        except (RedisError, OSError, TimeoutError) as e:
            log.warning("bus: subscribing to %s failed (%s); will retry on reconnect", channel, e)
        finally:
            self._confirmed.pop(channel, None)

    async def unsubscribe(self, room: str) -> None:
        self._rooms.discard(room)
        if self._pubsub is None or not self.connected.is_set():
            return
        channel = self.channel(room)
        with contextlib.suppress(RedisError, OSError):
            if self.cluster:
                await self._pubsub.sunsubscribe(channel)
            else:
                await self._pubsub.unsubscribe(channel)

    async def _send_subscribe(self, *channels: str) -> None:
        if self.cluster:
            await self._pubsub.ssubscribe(*channels)
        else:
            await self._pubsub.subscribe(*channels)

    # -- the listener ---------------------------------------------------------------------
    async def _listen(self, deliver: Deliver, repair: Repair) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                await self._connect()
                if not first:
                    self.reconnects += 1
                    BUS_RECONNECTS.inc()
                    log.info("bus: reconnected to Redis; repairing from MongoDB")
                    repair()
                first = False
                delay = 0.1
                await self._pump(deliver)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any failure: reconnect, never die
                log.warning("bus: Redis connection lost (%s); retrying in %.1f s", e, delay)
            self.connected.clear()
            await self._drop_pubsub()
            await asyncio.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 5.0)

    async def _connect(self) -> None:
        if self.cluster:
            await self._listener.initialize()  # learn the slot map
        self._pubsub = self._listener.pubsub()
        channels = [self.channel(CONTROL), *(self.channel(r) for r in self._rooms)]
        await self._send_subscribe(*channels)
        self.connected.set()

    async def _pump(self, deliver: Deliver) -> None:
        pubsub = self._pubsub
        while True:
            if self.cluster:
                message = await pubsub.get_sharded_message(timeout=1.0)
            else:
                message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            kind = message["type"]
            if kind in ("message", "smessage"):
                try:
                    deliver(Event.decode(message["data"]))
                except (ValueError, TypeError):
                    log.warning("bus: dropped a malformed event on %s", message["channel"])
            elif kind in ("subscribe", "ssubscribe"):
                channel = message["channel"]
                waiter = self._confirmed.get(
                    channel.decode() if isinstance(channel, bytes) else channel
                )
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), 2)
