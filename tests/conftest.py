"""Real services for every test: a SecantusDB server, Redis, Hypercorn on a real socket."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypercorn.asyncio import serve
from quart import Quart

from tac.app import create_app
from tac.embedded import EmbeddedMongo, free_port
from tac.patches import send_directly
from tac.server import hypercorn_config, tune_hypercorn
from tac.settings import Settings
from tests.redis_cluster import redis_cluster_url  # noqa: F401 - a session fixture
from tests.waiting import wait_until

pytest_plugins = ["tests.browser"]  # the `browser` fixture

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("mongo")
    server = EmbeddedMongo(home / "data", log_file=home / "mongo.log")
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def settings(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    run = secrets.token_hex(4)
    var_dir = tmp_path_factory.mktemp("var")
    return Settings(
        mongo_url=mongo_url,
        mongo_db=f"tac_test_{run}",
        redis_prefix=f"tac-test-{run}",
        secret_key="test-secret",
        var_dir=var_dir,
        port=free_port(),
        unix_socket=var_dir / "tac.sock",  # served too, as behind nginx
        rate_limit_messages=10_000,
        login_address_attempts_max=100_000,  # every test signs in from 127.0.0.1
        ws_hello_timeout_seconds=2.0,
        typing_expire_seconds=1.0,
    )


async def start_server(app: Quart, settings: Settings) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    send_directly()  # as `tac run` does
    tune_hypercorn(settings)
    task = asyncio.create_task(
        serve(app, hypercorn_config(settings), shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    )
    url = f"http://{settings.host}:{settings.port}/login"
    async with httpx.AsyncClient() as client:

        async def answers() -> bool:
            await client.get(url)
            return True

        await wait_until(
            answers, 30, what=f"the server answers {url}", ignore=(httpx.TransportError,)
        )
    return stop, task


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Quart]:
    app = create_app(settings)
    stop, task = await start_server(app, settings)
    yield app
    stop.set()
    await asyncio.wait_for(task, 15)


@pytest.fixture(scope="session")
def base_url(app: Quart, settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


def unique(prefix: str = "user") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


class Person:
    """Someone using Tac over real HTTP and WebSockets, as a browser would."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False)
        self.username = ""

    async def csrf(self, path: str) -> str:
        page = await self.http.get(path)
        found = CSRF.search(page.text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    async def post_form(
        self, path: str, data: dict[str, str], page: str | None = None
    ) -> httpx.Response:
        token = await self.csrf(page or path)
        return await self.http.post(path, data={**data, "csrf_token": token})

    async def register(
        self, username: str | None = None, password: str = "correct horse"
    ) -> httpx.Response:
        self.username = username or unique()
        return await self.post_form(
            "/register", {"username": self.username, "password": password, "display_name": ""}
        )

    async def login(self, username: str, password: str) -> httpx.Response:
        return await self.post_form("/login", {"username": username, "password": password})

    def ws_url(self, slug: str) -> str:
        return self.base_url.replace("http", "ws", 1) + f"/rooms/{slug}/ws"

    def connect(self, slug: str) -> Any:
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        return websockets.connect(
            self.ws_url(slug),
            additional_headers={"Cookie": cookie},
            origin=websockets.Origin(self.base_url),
        )

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def person_factory(base_url: str) -> AsyncIterator[Any]:
    people: list[Person] = []

    async def make(register: bool = True) -> Person:
        person = Person(base_url)
        if register:
            response = await person.register()
            assert response.status_code == 302, response.text
        people.append(person)
        return person

    yield make
    for person in people:
        await person.close()


async def hello(ws: Any, last_seq: int) -> None:
    await ws.send(f'{{"hello": true, "last_seq": {last_seq}}}')


async def receive_until(ws: Any, predicate: Any, seconds: float = 5.0) -> list[str]:
    """Frames received until one satisfies `predicate`; fails the test on timeout."""
    frames: list[str] = []
    async with asyncio.timeout(seconds):
        while True:
            frame = await ws.recv()
            frames.append(frame)
            if predicate("".join(frames)):
                return frames


async def attached(ws: Any, seconds: float = 5.0) -> list[str]:
    """Frames until the room's members list arrives. The socket is then attached to its room:
    it announces its arrival only after attaching, and every arrival sends the list to every
    socket of the room, the arriving one included."""
    return await receive_until(ws, lambda text: 'id="members"' in text, seconds)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
