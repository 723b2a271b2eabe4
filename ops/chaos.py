"""Chaos: people post over their sockets while Redis restarts and an instance is killed.

    python -m ops.chaos --clients 50 --rate 40 --seconds 30      (or `make chaos RATE=40`)

A stack of its own (ops/stack.py: 2 instances behind nginx, its own Redis, SecantusDB) and
N clients that behave as the room page does (tac.js and htmx's ws extension): each holds
the messages it received, says on every (re)connect the seq up to which it holds *every*
message (from the server's last mark on), reconnects after 1006/1011/1012/1013 or a failed
handshake, gives each post an id, and resends a post it has no acknowledgment for on its
next connection (marked as a retry). Meanwhile the driver restarts Redis and SIGKILLs an
instance while posts are in flight, then starts it again.

At the end every client's view must be the room as stored: identical, gap-free (but for
seqs abandoned by posts that died with the instance), duplicate-free, holding every
acknowledged post, each stored once. `check()` says what does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from pymongo import MongoClient

from ops.stack import Stack

ARTICLE = re.compile(r'<article class="msg" id="msg-[0-9a-f]+" data-seq="(\d+)"')
MARK = re.compile(r'id="room-mark" data-mark="(\d+)"')
ACK = re.compile(r'data-client-id="([A-Za-z0-9_-]+)"(?: data-seq-acked="(\d+)")?')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RECONNECTING_CODES = {1006, 1011, 1012, 1013}

SETTINGS = {
    "TAC_RATE_LIMIT_MESSAGES": "100000",
    "TAC_WS_HELLO_TIMEOUT_SECONDS": "2",
    "TAC_GAP_REPAIR_SECONDS": "0.5",
    "TAC_SEQ_ABANDONED_SECONDS": "3",
    "TAC_GRACEFUL_TIMEOUT_SECONDS": "2",
    "TAC_SHUTDOWN_STEP_SECONDS": "1",
}


@dataclass
class Client:
    """One person's room page."""

    base_url: str
    slug: str = ""
    http: httpx.AsyncClient = field(init=False)
    received: list[int] = field(default_factory=list)
    """Every seq received, in order, duplicates included."""
    mark: int = 0
    """The server's last word on how far this page holds the room (its render, a catch-up)."""
    pending: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Posts sent (or typed) without an acknowledgment yet, by client id: body, when sent."""
    acked: dict[str, int] = field(default_factory=dict)
    ws: Any = None
    connects: int = 0
    gave_up: bool = False

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=60)

    @property
    def held(self) -> set[int]:
        return set(self.received)

    def contiguous(self) -> int:
        """What tac.js says on (re)connect: from the server's mark on, as far as no hole."""
        seq, held = self.mark, self.held
        while seq + 1 in held:
            seq += 1
        return seq

    async def form(
        self, path: str, data: dict[str, str], page: str | None = None
    ) -> httpx.Response:
        found = CSRF.search((await self.http.get(page or path)).text)
        assert found, f"no CSRF token on {page or path}"
        return await self.http.post(path, data={**data, "csrf_token": found.group(1)})

    async def sign_up(self) -> None:
        name = f"chaos_{secrets.token_hex(4)}"
        answer = await self.form(
            "/register", {"username": name, "password": "correct horse", "display_name": ""}
        )
        assert answer.status_code == 302, f"sign-up answered {answer.status_code}"

    async def join(self, slug: str) -> None:
        self.slug = slug
        answer = await self.form(f"/rooms/{slug}/join", {}, page=f"/rooms/{slug}")
        assert answer.status_code == 302, f"join answered {answer.status_code}"

    # -- the socket, as htmx keeps it -------------------------------------------------------
    async def run(self) -> None:
        while True:
            code = await self._session()
            if code is not None and code not in RECONNECTING_CODES:
                self.gave_up = True
                return
            await asyncio.sleep(0.05 + random.random() * 0.3)

    async def _session(self) -> int | None:
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        url = self.base_url.replace("http", "ws", 1) + f"/rooms/{self.slug}/ws"
        try:
            async with websockets.connect(
                url,
                additional_headers={"Cookie": cookie},
                origin=websockets.Origin(self.base_url),
                open_timeout=5,
            ) as ws:
                self.connects += 1
                await ws.send(json.dumps({"hello": True, "last_seq": self.contiguous()}))
                self.ws = ws
                for client_id, (body, _) in list(self.pending.items()):
                    await self._send(ws, client_id, body, retry=True)
                with contextlib.suppress(websockets.ConnectionClosed):
                    async for frame in ws:
                        self._read(str(frame))
                self.ws = None
                return int(ws.close_code if ws.close_code is not None else 1006)
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed):
            self.ws = None
            return None

    def _read(self, frame: str) -> None:
        self.received += [int(s) for s in ARTICLE.findall(frame)]
        for mark in MARK.findall(frame):
            self.mark = max(self.mark, int(mark))
        for client_id, seq in ACK.findall(frame):
            if seq and client_id in self.pending:
                del self.pending[client_id]
                self.acked[client_id] = int(seq)

    async def post(self, body: str) -> None:
        client_id = secrets.token_hex(8)
        self.pending[client_id] = (body, time.monotonic())  # offline: sent on reconnect
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._send(ws, client_id, body)

    async def resend_pending(self, older_than: float) -> None:
        """Resend what has waited for its acknowledgment longer than `older_than` seconds
        (a post refused with "Not sent", or whose answer was lost with its socket)."""
        ws, now = self.ws, time.monotonic()
        if ws is not None:
            for client_id, (body, sent) in list(self.pending.items()):
                if now - sent > older_than:
                    self.pending[client_id] = (body, now)
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await self._send(ws, client_id, body, retry=True)

    @staticmethod
    async def _send(ws: Any, client_id: str, body: str, retry: bool = False) -> None:
        frame: dict[str, Any] = {"body": body, "client_id": client_id}
        if retry:
            frame["retry"] = True
        await ws.send(json.dumps(frame))


@dataclass
class Report:
    clients: int
    posted: int
    acked: int
    stored: list[int]
    top: int
    connects: int
    problems: list[str]
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.clients} clients, {self.posted} posts, {self.acked} acknowledged, "
            f"{len(self.stored)} stored (top seq {self.top}), {self.connects} connects, "
            f"{len(self.problems)} problems, {self.seconds:.1f} s"
        )


def stored_messages(stack: Stack, slug: str) -> tuple[int, list[dict[str, Any]]]:
    with MongoClient[dict[str, Any]](stack.mongo_url, serverSelectionTimeoutMS=3000) as client:
        db = client[stack.settings["TAC_MONGO_DB"]]
        room = db.rooms.find_one({"slug": slug})
        assert room is not None
        found = db.messages.find({"room": room["_id"]}, {"seq": True, "client_id": True})
        return int(room["last_seq"]), list(found)


def check(clients: list[Client], stored: list[dict[str, Any]]) -> list[str]:
    """What does not hold of: every view is the stored room, once, with every acknowledged
    post; each post stored once."""
    problems: list[str] = []
    seqs = sorted(int(m["seq"]) for m in stored)
    by_client_id = Counter(m.get("client_id") for m in stored if m.get("client_id"))
    problems += [f"post {cid} stored {n} times" for cid, n in by_client_id.items() if n > 1]
    stored_at = {m.get("client_id"): int(m["seq"]) for m in stored}
    for i, client in enumerate(clients):
        held = client.held
        missing, extra = sorted(set(seqs) - held), sorted(held - set(seqs))
        if missing:
            problems.append(f"client {i} misses {len(missing)}: {missing[:10]}")
        if extra:
            problems.append(f"client {i} shows seqs never stored: {extra[:10]}")
        for client_id, seq in client.acked.items():
            if stored_at.get(client_id) != seq:
                problems.append(f"client {i}: acknowledged {client_id} at {seq}, not stored so")
        if client.pending:
            problems.append(f"client {i} has {len(client.pending)} posts never acknowledged")
        if client.gave_up:
            problems.append(f"client {i} was left disconnected for good")
    return problems


async def run_chaos(
    stack: Stack, clients: int, rate: float, seconds: float, settle: float = 30.0
) -> Report:
    """Post at `rate` for `seconds` through chaos, then wait up to `settle` for every view to
    be complete. The stack must have its own Redis (restarted here) and 2 instances."""
    started = time.monotonic()
    people = [Client(stack.url) for _ in range(clients)]
    for start in range(0, clients, 10):  # ten at a time: a sign-up costs an argon2 hash
        await asyncio.gather(*(p.sign_up() for p in people[start : start + 10]))
    owner = people[0]
    created = await owner.form("/rooms", {"title": f"Chaos {secrets.token_hex(3)}", "topic": ""})
    assert created.status_code == 302, created.text
    slug = str(created.headers["location"]).rsplit("/", 1)[-1]
    owner.slug = slug
    await asyncio.gather(*(p.join(slug) for p in people[1:]))
    sockets = [asyncio.create_task(p.run()) for p in people]
    posted = 0
    try:
        await wait_for(lambda: all(p.ws is not None for p in people), 20, "every client connects")
        schedule = [
            (0.25 * seconds, "restart Redis", lambda: stack.restart_redis(down_for=1.0)),
            (0.50 * seconds, "kill instance 1", lambda: stack.kill_instance(1)),
            (0.65 * seconds, "start instance 1", lambda: stack.start_instance(1)),
        ]
        chaos = asyncio.create_task(_act(schedule))
        loop = asyncio.get_running_loop()
        begin = loop.time()
        while loop.time() - begin < seconds:
            await random.choice(people).post(f"message {posted}")
            posted += 1
            await asyncio.sleep(max(0.0, posted / rate - (loop.time() - begin)))
        await chaos
        # Every post acknowledged (resent on a live socket until it is), then every view whole.
        deadline = loop.time() + settle
        while any(p.pending for p in people) and loop.time() < deadline:
            for p in people:
                await p.resend_pending(older_than=5.0)
            await asyncio.sleep(0.5)
        top, stored = await asyncio.to_thread(stored_messages, stack, slug)
        want = {int(m["seq"]) for m in stored}
        while not all(want <= p.held for p in people) and loop.time() < deadline:
            await asyncio.sleep(0.2)
        top, stored = await asyncio.to_thread(stored_messages, stack, slug)
    finally:
        for task in sockets:
            task.cancel()
        await asyncio.gather(*sockets, return_exceptions=True)
        for p in people:
            await p.http.aclose()
    return Report(
        clients=clients,
        posted=posted,
        acked=sum(len(p.acked) for p in people),
        stored=sorted(int(m["seq"]) for m in stored),
        top=top,
        connects=sum(p.connects for p in people),
        problems=check(people, stored),
        seconds=time.monotonic() - started,
    )


async def _act(schedule: list[tuple[float, str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for at, what, action in schedule:
        await asyncio.sleep(max(0.0, at - (loop.time() - begin)))
        print(f"chaos: {what} at {loop.time() - begin:.1f} s", file=sys.stderr)
        await asyncio.to_thread(action)


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.05)
    del what


def make_stack(var_dir: Path) -> Stack:
    from tac.embedded import free_port

    run = secrets.token_hex(4)
    settings = {**SETTINGS, "TAC_REDIS_PREFIX": f"tac-chaos-{run}", "TAC_MONGO_DB": f"chaos_{run}"}
    return Stack(var_dir, instances=2, port=free_port(), settings=settings, own_redis=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=40.0, help="posts per second, all clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to post")
    parser.add_argument("--var-dir", type=Path, default=Path("var/chaos"))
    args = parser.parse_args(argv)
    stack = make_stack(args.var_dir)
    stack.start()
    try:
        report = asyncio.run(run_chaos(stack, args.clients, args.rate, args.seconds))
    finally:
        stack.stop()
    print(report.summary())
    for problem in report.problems:
        print("problem:", problem)
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
