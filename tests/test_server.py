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


async def test_a_socket_closed_for_an_oversized_frame_loses_its_tcp_connection(
    person_factory: Any, settings: Settings
) -> None:
    """Hypercorn sends 1009 and then waited (up to a ping interval) for the client's close:
    a client that never answers must not keep the connection."""
    import asyncio
    import base64
    import os
    import struct
    import time

    alice = await person_factory()
    cookie = "; ".join(f"{k}={v}" for k, v in alice.http.cookies.items())
    reader, writer = await asyncio.open_connection(settings.host, settings.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /rooms/general/ws HTTP/1.1\r\n"
            f"Host: {settings.host}:{settings.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{settings.host}:{settings.port}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    payload = b"x" * (settings.ws_max_message_bytes + 1)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(b"\x81\xff" + struct.pack("!Q", len(payload)) + mask + masked)
    await writer.drain()
    sent = time.monotonic()
    received = b""
    async with asyncio.timeout(settings.ws_ping_interval_seconds):
        while chunk := await reader.read(65536):  # never answering the close
            received += chunk
    assert time.monotonic() - sent < 2.0
    assert b"\x88" in received and struct.pack("!H", 1009) in received  # said why first
    writer.close()
