"""A minimal RFC 6455 client on an asyncio Protocol: the bench's cheapest honest reader.

It does what a browser does on the wire (HTTP/1.1 upgrade with a random key, masked
client frames, pong for ping, close handshake) and nothing else: no extensions, no
fragmented sends, no per-message task or future. Each text message is handed to a
callback straight from data_received, so one process can read tens of thousands of
messages per second without being the bottleneck it measures.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def mask(payload: bytes, key: bytes) -> bytes:
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return masked.to_bytes(len(payload), "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return header + key + mask(payload, key)


class RawWebSocket(asyncio.Protocol):
    def __init__(self, request: bytes, on_text: Callable[[str], None]) -> None:
        self.request = request
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] = []
        self.close_code: int | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            if b" 101 " not in status:
                self._fail(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded = True
            self.opened.set_result(None)
        self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = 1006
        self._fail(ConnectionError("connection lost before the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- frames -------------------------------------------------------------------------
    def _frames(self) -> None:
        buf = self.buffer
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            start = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, start = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + length:
                return
            fin, opcode = buf[0] & 0x80, buf[0] & 0x0F
            payload = bytes(buf[start : start + length])  # server frames are never masked
            del buf[: start + length]
            self._frame(fin, opcode, payload)

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (TEXT, BINARY, CONTINUATION):
            if not fin:
                self.fragments.append(payload)
                return
            if self.fragments:
                payload = b"".join([*self.fragments, payload])
                self.fragments = []
            self.on_text(payload.decode())
        elif opcode == PING:
            self._write(client_frame(PONG, payload))
        elif opcode == CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._write(client_frame(CLOSE, payload[:2]))
            if self.transport is not None:
                self.transport.close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, error: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)

    # -- what the bench client uses ----------------------------------------------------
    async def send(self, text: str) -> None:
        if self.close_code is not None:
            raise ConnectionError(f"closed with {self.close_code}")
        self._write(client_frame(TEXT, text.encode()))

    async def close(self) -> None:
        if self.close_code is None:
            self.close_code = 1000
            self._write(client_frame(CLOSE, (1000).to_bytes(2, "big")))
        if self.transport is not None:
            self.transport.close()


async def raw_connect(
    url: str, origin: str, cookie: str, on_text: Callable[[str], None], timeout: float = 60
) -> RawWebSocket:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\nCookie: session={cookie}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: RawWebSocket(request, on_text), host, port), timeout
    )
    try:
        await asyncio.wait_for(protocol.opened, timeout)
    except BaseException:
        if protocol.transport is not None:
            protocol.transport.close()
        raise
    return protocol
