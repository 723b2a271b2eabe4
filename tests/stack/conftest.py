"""Several real Tac processes (ops/stack.py): instances, nginx, Redis, MongoDB.

Every process a test starts is stopped in fixture teardown, also when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from pymongo import MongoClient

from ops.stack import Stack, nginx_binary
from tests.conftest import Person, hello
from tests.waiting import WaitTimeout, wait_until

ARTICLE = re.compile(r'<article class="msg" id="msg-[0-9a-f]+" data-seq="(\d+)"')

# htmx's ws extension reconnects only after these codes; 1000/1001 leave a page disconnected.
RECONNECTING_CODES = {1006, 1011, 1012, 1013}


def seqs_in(text: str) -> list[int]:
    return [int(s) for s in ARTICLE.findall(text)]


def need_programs() -> None:
    try:
        nginx_binary()
    except RuntimeError as e:
        pytest.skip(str(e))
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (make system-deps)")


def make_stack(var_dir: Path, **kwargs: Any) -> Stack:
    """Two instances on the Redis bus (a unique prefix and database per stack) behind nginx
    on a free port. The shared Redis is used unless own_redis=True."""
    from tac.embedded import free_port

    need_programs()
    run = secrets.token_hex(4)
    settings = {
        "TAC_REDIS_PREFIX": f"tac-stack-{run}",
        "TAC_MONGO_DB": f"tac_stack_{run}",
        "TAC_RATE_LIMIT_MESSAGES": "100000",
        "TAC_WS_HELLO_TIMEOUT_SECONDS": "2",
        "TAC_GAP_REPAIR_SECONDS": "0.5",
        "TAC_GRACEFUL_TIMEOUT_SECONDS": "2",
        "TAC_SHUTDOWN_STEP_SECONDS": "1",
    }
    kwargs.setdefault("redis_url", "redis://127.0.0.1:6379/0")
    stack = Stack(var_dir, instances=2, port=free_port(), settings=settings, **kwargs)
    return stack


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Shared by the tests of a module that leave every process running."""
    with running(make_stack(tmp_path_factory.mktemp("stack"))) as started:
        yield started


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """For a test that stops part of it."""
    with running(make_stack(tmp_path / "stack")) as started:
        yield started


@pytest.fixture
def own_redis_stack(tmp_path: Path) -> Iterator[Stack]:
    """With its own redis-server, which the test may restart without disturbing anyone."""
    with running(make_stack(tmp_path / "stack", own_redis=True)) as started:
        yield started


@pytest.fixture
async def people() -> AsyncIterator[Callable[[str], Awaitable[Person]]]:
    made: list[Person] = []

    async def register(base_url: str) -> Person:
        person = Person(base_url)
        made.append(person)
        response = await person.register()
        assert response.status_code == 302, response.text
        return person

    yield register
    for person in made:
        await person.close()


async def make_room(person: Person, title: str) -> str:
    response = await person.post_form("/rooms", {"title": title, "topic": ""})
    assert response.status_code == 302, response.text
    return str(response.headers["location"]).rsplit("/", 1)[-1]


async def join(person: Person, slug: str) -> None:
    response = await person.post_form(f"/rooms/{slug}/join", {}, page=f"/rooms/{slug}")
    assert response.status_code == 302, response.text


def stored_seqs(stack: Stack, slug: str) -> tuple[int, list[int]]:
    """The room's last_seq and the seqs of its stored messages, read from MongoDB."""
    with MongoClient[dict[str, Any]](stack.mongo_url, serverSelectionTimeoutMS=3000) as client:
        db = client[stack.settings["TAC_MONGO_DB"]]
        room = db.rooms.find_one({"slug": slug})
        assert room is not None
        found = db.messages.find({"room": room["_id"]}, {"seq": True})
        return int(room["last_seq"]), sorted(int(m["seq"]) for m in found)


class Listener:
    """A room page on its socket, as htmx's ws extension and tac.js make it behave: it
    reconnects after 1006/1011/1012/1013 or a failed handshake, never after a clean
    1000/1001, and on every (re)connect says the highest seq it shows (tac.js keeps the
    messages sorted by seq, so that is the last one on the page).

    `seqs` is every seq received, in arrival order, duplicates included."""

    def __init__(self, person: Person, slug: str, since: int = 0) -> None:
        self.person = person
        self.slug = slug
        self.since = since
        self.seqs: list[int] = []
        self.close_codes: list[int | None] = []
        self.failed_handshakes = 0
        self.connects = 0
        self.members_lists = 0  # frames with the room's members list: the socket is attached
        self.frames: list[str] = []
        self.ws: Any = None
        self.gave_up = False
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def last(self) -> int:
        return max(self.seqs, default=self.since)

    @property
    def shown(self) -> list[int]:
        """What the page shows: the messages received, sorted by seq (tac.js keepOrder)."""
        return sorted(self.seqs)

    @property
    def out_of_order(self) -> int:
        """Messages that arrived after one with a higher seq (the page reorders them)."""
        return sum(1 for i, seq in enumerate(self.seqs) if seq < max(self.seqs[:i], default=0))

    def start(self) -> Listener:
        self.task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        while True:
            code = await self._session()
            self.changed.set()
            if code is not None and code not in RECONNECTING_CODES:
                self.gave_up = True  # what htmx does: the page stays disconnected
                return
            await asyncio.sleep(0.1 + random.random() * 0.3)  # htmx's reconnect delay, not a wait

    async def _session(self) -> int | None:
        """One connection, until it closes; returns its close code (None: never opened)."""
        try:
            async with self.person.connect(self.slug) as ws:
                self.connects += 1
                await hello(ws, self.last)
                self.ws = ws
                self.changed.set()
                try:
                    async for frame in ws:
                        self.seqs += seqs_in(str(frame))
                        self.frames.append(str(frame))
                        self.members_lists += 'id="members"' in frame
                        self.changed.set()
                except websockets.ConnectionClosed:
                    pass
                self.ws = None
                code = ws.close_code if ws.close_code is not None else 1006
                self.close_codes.append(code)
                return int(code)
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed):
            self.ws = None
            self.failed_handshakes += 1
            return None

    async def send(self, body: str) -> bool:
        """Post on the current socket; False when there is none (the post is not made)."""
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(f'{{"body": "{body}"}}')
        except websockets.ConnectionClosed:
            return False
        return True

    def heard(self, text: str) -> bool:
        return any(text in frame for frame in self.frames)

    async def wait_connected(self, seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while self.ws is None:
                self.changed.clear()
                await self.changed.wait()


async def wait_until_all_hold(listeners: list[Listener], top: int, seconds: float) -> None:
    """Until every listener holds seq `top` (or gave up); no failure here, the caller asserts."""
    with contextlib.suppress(WaitTimeout):
        await wait_until(
            lambda: all(lst.last >= top or lst.gave_up for lst in listeners),
            seconds,
            what=f"every listener holds seq {top}",
        )
