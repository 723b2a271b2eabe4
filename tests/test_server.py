"""Serving (src/tac/server.py) on a real socket; its library patches: tests/test_patches.py."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import websockets

from tac.settings import Settings
from tests.conftest import hello, receive_until


async def test_an_instance_also_serves_its_unix_socket(
    settings: Settings, person_factory: Any
) -> None:
    """TAC_UNIX_SOCKET: pages and live sockets over the Unix socket nginx talks to."""
    assert settings.unix_socket is not None
    path = str(settings.unix_socket)
    person = await person_factory()
    cookie = "; ".join(f"{k}={v}" for k, v in person.http.cookies.items())
    over_unix = httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=path),
        base_url="http://tac",
        headers={"Cookie": cookie},
    )
    async with over_unix:
        page = await over_unix.get("/rooms/general")
    assert page.status_code == 200 and person.username in page.text
    async with websockets.unix_connect(
        path,
        uri=person.ws_url("general"),
        additional_headers={"Cookie": cookie},
        origin=websockets.Origin(person.base_url),
    ) as ws:
        await hello(ws, 0)
        body = f"over the unix socket {secrets.token_hex(3)}"
        await ws.send(json.dumps({"body": body}))
        await receive_until(ws, lambda text: body in text)
