"""What the hostile-input table shares: its case shape, the stage it runs on, and how each
channel sends a case. (No tests here.)"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from beanie import PydanticObjectId

from tac.models import ApiToken, Room, User, messages_collection
from tests.conftest import Person, unique
from tests.web.test_api_support import PASSWORD, ApiUser

INLINE = "inline error"
"""The socket answers with the composer's error and stays open."""
IGNORED = "ignored"
"""The socket neither answers nor closes."""
ON_SITE = "redirect on site"
"""A 302 whose Location stays on this site."""

COMPOSER_ERROR = re.compile(r'id="composer-error"[^>]*>[^<\s][^<]*</p>')


class MalformedText(bytes):
    """Bytes sent as a *text* frame, unchecked: a text frame that is not UTF-8."""


@dataclass(frozen=True)
class Case:
    id: str
    channel: str  # form | socket | api | http
    expect: int | str  # an HTTP status, a close code, INLINE, IGNORED or ON_SITE
    path: str = ""
    data: Any = None  # form fields, a JSON value, or raw bytes (sent as they are)
    method: str = "POST"
    frames: tuple[str | bytes, ...] = ()
    hello: bool = True  # the socket says hello first, as the page does
    marks: tuple[Any, ...] = field(default=())

    def param(self) -> Any:
        return pytest.param(self, id=f"{self.channel}-{self.id}", marks=self.marks)


def form(id: str, path: str, data: dict[str, str] | bytes, expect: int | str, **kw: Any) -> Case:
    return Case(id, "form", expect, path=path, data=data, **kw)


def get(id: str, path: str, expect: int) -> Case:
    return Case(id, "form", expect, path=path, method="GET")


def api(id: str, method: str, path: str, data: Any, expect: int) -> Case:
    return Case(id, "api", expect, path=path, data=data, method=method)


def socket(id: str, *frames: str | bytes, expect: int | str, hello: bool = True) -> Case:
    return Case(id, "socket", expect, frames=frames, hello=hello)


def static(id: str, raw_path: str) -> Case:
    return Case(id, "http", 404, path=raw_path, method="GET")


@dataclass
class Stage:
    """One room, a person in it who uses the forms and the socket, and an API user in it."""

    person: Person
    api: ApiUser
    slug: str
    room_id: PydanticObjectId
    host: str
    port: int

    def fill(self, text: str) -> str:
        return text.format(slug=self.slug, me=self.api.username, new=unique("new"))

    async def snapshot(self) -> tuple[int, ...]:
        """What a refused input must leave as it was: the room's seq and messages, and how
        many people, rooms and tokens exist."""
        room = await Room.get(self.room_id)
        assert room is not None
        return (
            room.last_seq,
            await messages_collection().count_documents({"room": self.room_id}),
            await User.find_all().count(),
            await Room.find_all().count(),
            await ApiToken.find_all().count(),
        )


def csrf_page(path: str) -> str:
    """The page whose form posts to `path` (its CSRF token is taken from there)."""
    path = path.split("?")[0]
    if path.endswith("/messages"):
        return path.removesuffix("/messages")
    return path


async def send_form(stage: Stage, case: Case) -> httpx.Response:
    person = stage.person
    path = stage.fill(case.path)
    if case.method == "GET":
        return await person.http.get(path)
    if isinstance(case.data, bytes):
        token = await person.csrf(csrf_page(path))
        content = case.data.replace(b"{csrf}", token.encode())
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        return await person.http.post(path, content=content, headers=form_type)
    data = {k: v.replace("{new}", unique("new")) for k, v in case.data.items()}
    if path.startswith("/login"):
        data = {"username": person.username, "password": "correct horse"}
    return await person.post_form(path, data, page=csrf_page(path))


async def send_api(stage: Stage, case: Case) -> httpx.Response:
    path = stage.fill(case.path)
    if isinstance(case.data, bytes):
        body = case.data.replace(b"{me}", stage.api.username.encode())
        body = body.replace(b"{new}", unique("new").encode())
        body = body.replace(b"{password}", PASSWORD.encode())
        json_type = {"Content-Type": "application/json"}
        return await stage.api.http.request(case.method, path, content=body, headers=json_type)
    if case.data is None:
        return await stage.api.http.request(case.method, path)
    return await stage.api.http.request(case.method, path, json=case.data)


async def send_raw_get(stage: Stage, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (an HTTP client would resolve its dot segments)."""
    reader, writer = await asyncio.open_connection(stage.host, stage.port)
    request = f"GET {raw_path} HTTP/1.1\r\nHost: {stage.host}\r\nConnection: close\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    async with asyncio.timeout(5):
        answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


async def send_frames(stage: Stage, case: Case) -> int | str:
    """What became of the frames: the close code, INLINE or IGNORED."""
    async with stage.person.connect(stage.slug) as ws:
        if case.hello:
            top = (await stage.snapshot())[0]
            await ws.send(f'{{"hello": true, "last_seq": {top}}}')
        for frame in case.frames:
            if isinstance(frame, MalformedText):
                await ws.send(bytes(frame), text=True)
            else:
                await ws.send(frame)
        text = ""
        try:
            async with asyncio.timeout(0.8 if case.expect == IGNORED else 5):
                while not COMPOSER_ERROR.search(text):
                    received = await ws.recv()
                    text += received if isinstance(received, str) else ""
        except TimeoutError:
            pass
        except Exception:  # closed by the server
            async with asyncio.timeout(5):
                await ws.wait_closed()
            return int(ws.close_code or 0)
        async with asyncio.timeout(5):  # still open: it answers a ping
            await (await ws.ping())
        return INLINE if COMPOSER_ERROR.search(text) else IGNORED


def on_site(location: str) -> bool:
    """Where a browser would go stays on this site (browsers drop tabs and newlines in a
    URL and read a backslash as a slash)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    parts = urlsplit(cleaned)
    return not parts.scheme and not parts.netloc and cleaned.startswith("/")
