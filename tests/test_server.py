"""The serving tweaks of src/tac/server.py, on real wsproto connections and a real socket."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import websockets
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol

from tac.server import cache_text_frames
from tac.settings import Settings
from tests.conftest import hello, receive_until


def server_connection(extensions: list[PerMessageDeflate] | None = None) -> Connection:
    return Connection(ConnectionType.SERVER, extensions=extensions)


def frame_without_cache(text: str) -> bytes:
    proto = FrameProtocol(client=False, extensions=[])
    return bytes(proto.send_data(text, fin=True))


def test_a_text_is_framed_once_and_the_frame_is_what_wsproto_builds() -> None:
    cache_text_frames(4)
    a, b = server_connection(), server_connection()
    text = "<div id='m-1'>héllo</div>" * 10
    first, second = a.send(TextMessage(data=text)), b.send(TextMessage(data=text))
    assert first == frame_without_cache(text)
    assert second is first  # the same bytes object: built once
    big = "x" * 70_000  # a 64-bit length header
    assert a.send(TextMessage(data=big)) == frame_without_cache(big)


def test_the_cache_keeps_only_the_newest_frames() -> None:
    cache_text_frames(4)
    conn = server_connection()
    texts = [f"message {i}" for i in range(300)]
    frames = [conn.send(TextMessage(data=t)) for t in texts]
    assert conn.send(TextMessage(data=texts[-1])) is frames[-1]
    assert conn.send(TextMessage(data=texts[0])) is not frames[0]  # long evicted
    assert conn.send(TextMessage(data=texts[0])) == frames[0]


def test_compressed_fragmented_and_binary_frames_are_built_as_before() -> None:
    cache_text_frames(4)
    text = "same text " * 50
    plain = server_connection().send(TextMessage(data=text))
    deflate = PerMessageDeflate()
    deflate.finalize("permessage-deflate")  # as after a handshake that accepted it
    deflating = server_connection([deflate])
    compressed = deflating.send(TextMessage(data=text))
    assert compressed != plain and len(compressed) < len(plain)
    conn = server_connection()
    part = conn.send(TextMessage(data="first half ", message_finished=False))
    rest = conn.send(TextMessage(data=text))  # a continuation frame, not a new text frame
    assert part[0] & 0x0F == 0x1 and rest[0] & 0x0F == 0x0
    assert conn.send(BytesMessage(data=b"\x00\x01")) == bytes([0x82, 2, 0, 1])


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
