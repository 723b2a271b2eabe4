"""One load-generating process: many browser-like room sockets on one uvloop.

Clients are ops/bench/rawws.py's minimal RFC 6455 reader (default) or the websockets
library's client (`--client websockets`). Each client speaks the room page's protocol:
it opens ws://HOST/rooms/<slug>/ws with its session cookie and an Origin, says
{"hello": true, "last_seq": 0}, then reads fragments.
Senders post {"body": "b <index> <time_ns>"} on their socket at their scheduled times;
every client takes the receipt time of each message fragment as soon as its frame
arrives, so latency is post -> receipt on the same clock (one machine).

The orchestrator (ops/bench/fanout.py) drives a worker through a pipe:
    worker -> ("connected", {...})   every client has connected or failed
    orch   -> ("go", start_at)       post from start_at on, receive until done or deadline
    worker -> ("done", {...})        counts, latency histogram, own CPU
    orch   -> ("close", None)        close the sockets and exit
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ops.bench.rawws import RawWebSocket, raw_connect

BODY = re.compile(r'<p class="body"[^>]*>b (\d+) (\d+)</p>')
COMPOSER_ERROR = re.compile(r'id="composer-error"[^>]*>([^<]+)</p>')
BIN_BASE = 1.02
"""Latency histogram bins grow by 2 %: percentiles are exact to within 2 %."""


def latency_bin(micros: int) -> int:
    return int(math.log(max(micros, 1), BIN_BASE))


def bin_value(index: int) -> float:
    """The upper edge of a bin, in microseconds."""
    return float(BIN_BASE ** (index + 1))


@dataclass
class WorkerConfig:
    ws_url: str
    origin: str
    cookies: list[str]
    senders: dict[int, int]
    """Local client index -> sender number (0..S-1)."""
    sender_count: int
    messages_per_sender: int
    rate: float
    """Messages per second posted into the room, all senders together."""
    connect_rate: float
    """Connections per second this worker opens."""
    deflate: bool
    drain_seconds: float
    impl: str = "raw"
    """`raw`: ops/bench/rawws.py (the cheapest reader); `websockets`: the library's client."""
    ws_urls: list[str] | None = None
    """Each client's own room (`--rooms`); None: every client's is ws_url."""
    sender_rooms: dict[int, int] = field(default_factory=dict)
    """Local client index -> its room's number (0..rooms-1), to spread the rooms' posts."""
    rooms: int = 1
    elsewhere: list[int] = field(default_factory=list)
    """Local indices of clients that are members of the busy room but view another: they
    get its unread badges, not its messages, and are not waited for."""


@dataclass
class Totals:
    expected_each: int
    received: int = 0
    duplicates: int = 0
    post_errors: int = 0
    errors_seen: set[str] = field(default_factory=set)
    histogram: dict[int, int] = field(default_factory=dict)
    max_micros: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    complete_clients: int = 0
    all_done: asyncio.Event = field(default_factory=asyncio.Event)
    clients_left: int = 0


class Client:
    __slots__ = ("frames", "got", "last_frame", "message_frames", "received", "totals", "ws")

    def __init__(self, totals: Totals, expected: int | None = None) -> None:
        self.totals = totals
        self.got = bytearray(totals.expected_each if expected is None else expected)
        self.received = 0
        self.frames = 0
        self.message_frames = 0
        """Frames that carried at least one message: received / these = messages a frame."""
        self.last_frame = ""
        self.ws: ClientConnection | RawWebSocket | None = None

    def take(self, frame: str) -> None:
        now = time.time_ns()
        self.frames += 1
        self.last_frame = frame[:300]
        if 'class="msg"' not in frame:
            if "composer-error" in frame and (error := COMPOSER_ERROR.search(frame)):
                self.totals.post_errors += 1
                self.totals.errors_seen.add(error.group(1)[:80])
            return
        totals = self.totals
        self.message_frames += 1
        for match in BODY.finditer(frame):
            index = int(match.group(1))
            if index >= len(self.got) or self.got[index]:
                totals.duplicates += 1
                continue
            self.got[index] = 1
            self.received += 1
            totals.received += 1
            micros = (now - int(match.group(2))) // 1000
            b = latency_bin(micros)
            totals.histogram[b] = totals.histogram.get(b, 0) + 1
            if micros > totals.max_micros:
                totals.max_micros = micros
        if self.received == len(self.got) and self.got:
            totals.complete_clients += 1
            totals.clients_left -= 1
            if totals.clients_left == 0:
                totals.all_done.set()


async def open_client(
    config: WorkerConfig,
    cookie: str,
    totals: Totals,
    ws_url: str | None = None,
    expected: int | None = None,
) -> Client:
    client = Client(totals, expected)
    ws_url = ws_url or config.ws_url
    if config.impl == "raw":
        client.ws = await raw_connect(ws_url, config.origin, cookie, client.take)
        await client.ws.send('{"hello": true, "last_seq": 0}')
        return client
    client.ws = await connect(
        ws_url,
        origin=config.origin,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"session={cookie}"},
        compression="deflate" if config.deflate else None,
        ping_interval=None,  # the server pings; the library answers
        max_size=None,
        open_timeout=60,
        close_timeout=2,
    )
    await client.ws.send('{"hello": true, "last_seq": 0}')
    return client


async def read(client: Client) -> None:
    assert client.ws is not None
    if isinstance(client.ws, RawWebSocket):
        await client.ws.closed  # it reads by itself, from its protocol's callbacks
        record_close(client)
        return
    try:
        async for frame in client.ws:
            client.take(frame if isinstance(frame, str) else frame.decode())
    except ConnectionClosed:
        pass
    record_close(client)


def record_close(client: Client) -> None:
    code = client.ws.close_code if client.ws is not None else None
    if code is not None:
        key = str(code)
        client.totals.closed[key] = client.totals.closed.get(key, 0) + 1


async def post_all(
    client: Client, sender: int, config: WorkerConfig, start_at: float, room: int = 0
) -> int:
    """Post this sender's messages at their times: message j of its room goes at
    start_at + j / rate, the rooms' schedules shifted evenly within one interval."""
    assert client.ws is not None
    posted = 0
    start_at += room / max(config.rooms, 1) / config.rate
    for k in range(config.messages_per_sender):
        index = k * config.sender_count + sender
        delay = start_at + index / config.rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await client.ws.send(f'{{"body": "b {index} {time.time_ns()}"}}')
        except (ConnectionClosed, ConnectionError):
            break
        posted += 1
    return posted


async def run_worker(config: WorkerConfig, pipe: Pipe) -> None:
    loop = asyncio.get_running_loop()
    expected_each = config.sender_count * config.messages_per_sender
    totals = Totals(expected_each=expected_each, clients_left=len(config.cookies))
    if expected_each == 0:
        totals.all_done.set()
    clients: list[Client | None] = [None] * len(config.cookies)
    elsewhere = set(config.elsewhere)
    failures: dict[str, int] = {}
    handshakes = asyncio.Semaphore(256)
    started = time.time()

    async def connect_one(i: int) -> None:
        await asyncio.sleep(max(0.0, started + i / config.connect_rate - time.time()))
        async with handshakes:
            try:
                url = config.ws_urls[i] if config.ws_urls else None
                expected = 0 if i in elsewhere else None
                clients[i] = await open_client(config, config.cookies[i], totals, url, expected)
            except Exception as e:
                key = type(e).__name__ + ": " + str(e)[:60]
                failures[key] = failures.get(key, 0) + 1

    await asyncio.gather(*(connect_one(i) for i in range(len(config.cookies))))
    connected_at = time.time()
    live = [c for c in clients if c is not None]
    watching = [c for i, c in enumerate(clients) if c is not None and i not in elsewhere]
    totals.clients_left = len(watching)
    if not watching:
        totals.all_done.set()
    readers = [asyncio.create_task(read(c)) for c in live]
    pipe.send(
        (
            "connected",
            {"connected": len(live), "failures": failures, "seconds": connected_at - started},
        )
    )

    kind, start_at = await loop.run_in_executor(None, pipe.recv)
    assert kind == "go"
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    posting = [
        asyncio.create_task(post_all(c, sender, config, start_at, config.sender_rooms.get(i, 0)))
        for i, sender in config.senders.items()
        if (c := clients[i]) is not None
    ]
    last_post = start_at + (expected_each - 1) / max(config.rate, 1e-9)
    deadline = last_post + config.drain_seconds
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(totals.all_done.wait(), max(0.1, deadline - time.time()))
    finished = time.time()
    posted = sum(await asyncio.gather(*posting))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    held = sum(1 for c in live if c.ws is not None and c.ws.close_code is None)
    missing = sorted(
        {i for c in live if c.received < len(c.got) for i, x in enumerate(c.got) if not x}
    )
    pipe.send(
        (
            "done",
            {
                "clients": len(live),
                "held": held,
                "posted": posted,
                "received": totals.received,
                "duplicates": totals.duplicates,
                "complete_clients": totals.complete_clients,
                "post_errors": totals.post_errors,
                "errors_seen": sorted(totals.errors_seen)[:5],
                "histogram": totals.histogram,
                "max_micros": totals.max_micros,
                "closed": totals.closed,
                "missing": missing[:20],
                "lacking": [
                    (c.received, c.frames, c.last_frame) for c in live if c.received < len(c.got)
                ][:3],
                "finished": finished,
                "message_frames": sum(c.message_frames for c in live),
                "elsewhere": [c.frames for i, c in enumerate(clients) if c and i in elsewhere],
                "cpu_seconds": (cpu_after.ru_utime + cpu_after.ru_stime)
                - (cpu_before.ru_utime + cpu_before.ru_stime),
            },
        )
    )
    await loop.run_in_executor(None, pipe.recv)  # close
    for task in readers:
        task.cancel()
    await asyncio.gather(*(c.ws.close() for c in live if c.ws is not None), return_exceptions=True)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (soft and, as root, hard); returns the soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def worker_main(config: dict[str, Any], pipe: Pipe) -> None:
    """multiprocessing entry point."""
    raise_fd_limit(len(config["cookies"]) + 1024)
    uvloop.run(run_worker(WorkerConfig(**config), pipe))
