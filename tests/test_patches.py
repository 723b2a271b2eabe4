"""The library patches of src/tac/patches.py: each takes effect while applied, not when
reverted, over real Hypercorn sockets; and each was written for the version installed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import json
import logging
import secrets
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.protocol.ws_stream import Handshake, WSStream
from quart import Quart, websocket
from quart.asgi import ASGIWebsocketConnection
from quart.wrappers.websocket import Websocket
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol

from tac import patches
from tac.embedded import free_port
from tac.patches import (
    ALL,
    CACHE_TEXT_FRAMES,
    REFUSE_WS_COMPRESSION,
    SEND_DIRECTLY,
    PatchError,
    cache_text_frames,
    close_refused_sockets,
    pings_end_at_shutdown,
    refuse_ws_compression,
    send_directly,
)
from tests.conftest import hello, receive_until

# The libraries' own functions, as imported (before any test server applied a patch).
ORIGINAL_ACCEPT = Handshake.__dict__["accept"]
ORIGINAL_SEND = Connection.__dict__["send"]


@pytest.fixture(autouse=True)
def restore_patches() -> Iterator[None]:
    """Leave the patches as the session's server had them, whatever a test turned off."""
    was = [patch.applied for patch in ALL]
    entries = CACHE_TEXT_FRAMES.entries
    yield
    CACHE_TEXT_FRAMES.entries = entries
    for patch, applied in zip(ALL, was, strict=True):
        if applied:
            patch.apply()
        else:
            patch.revert()


# -- a bare Quart app on real Hypercorn sockets -------------------------------------------
TEXT = "<div id='m-1'>the same fragment for every socket</div>" * 20


@pytest.fixture
async def bare_url() -> AsyncIterator[str]:
    """A Quart app that answers every frame with the same TEXT, served by Hypercorn."""
    app = Quart(__name__)

    @app.websocket("/same")
    async def same() -> None:
        while True:
            await websocket.receive()
            await websocket.send(TEXT)

    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                await client.get(f"http://127.0.0.1:{port}/")
                break
            await asyncio.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/same"
    stop.set()
    await asyncio.wait_for(task, 10)


def count_frames_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TEXT wsproto frames from now on, through its own frame builder."""
    built: list[str] = []
    build = FrameProtocol.send_data

    def counting(self: FrameProtocol, payload: Any = b"", fin: bool = False) -> bytes:
        if payload == TEXT:
            built.append(payload)
        return build(self, payload, fin)

    monkeypatch.setattr(FrameProtocol, "send_data", counting)
    return built


async def text_to_two_sockets(url: str) -> None:
    async with (
        websockets.connect(url, compression=None) as a,
        websockets.connect(url, compression=None) as b,
    ):
        for ws in (a, b):
            await ws.send("go")
            assert await ws.recv() == TEXT


async def test_a_text_sent_to_two_sockets_is_framed_once_while_applied(
    bare_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_text_frames(4)  # applying again replaces the cache: TEXT is not in the new one
    built = count_frames_built(monkeypatch)
    await text_to_two_sockets(bare_url)
    assert len(built) == 1


async def test_a_text_sent_to_two_sockets_is_framed_twice_when_reverted(
    bare_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_text_frames(0)
    assert not CACHE_TEXT_FRAMES.applied
    built = count_frames_built(monkeypatch)
    await text_to_two_sockets(bare_url)
    assert len(built) == 2


async def offered_deflate_answer(url: str) -> str | None:
    async with websockets.connect(url, compression="deflate") as ws:
        await ws.send("go")
        assert await ws.recv() == TEXT
        assert ws.response is not None
        answer: str | None = ws.response.headers.get("Sec-WebSocket-Extensions")
        return answer


async def test_a_compression_offer_is_refused_while_applied_and_accepted_when_reverted(
    bare_url: str,
) -> None:
    refuse_ws_compression()
    assert await offered_deflate_answer(bare_url) is None
    refuse_ws_compression(False)
    answer = await offered_deflate_answer(bare_url)
    assert answer is not None and answer.startswith("permessage-deflate")


def test_revert_restores_the_libraries_own_functions() -> None:
    refuse_ws_compression()
    cache_text_frames(8)
    assert Handshake.__dict__["accept"] is not ORIGINAL_ACCEPT
    assert Connection.__dict__["send"] is not ORIGINAL_SEND
    REFUSE_WS_COMPRESSION.revert()
    CACHE_TEXT_FRAMES.revert()
    assert Handshake.__dict__["accept"] is ORIGINAL_ACCEPT
    assert Connection.__dict__["send"] is ORIGINAL_SEND
    REFUSE_WS_COMPRESSION.revert()  # twice is harmless
    assert Handshake.__dict__["accept"] is ORIGINAL_ACCEPT
    handle_events = WSStream.__dict__["_handle_events"]
    close_refused_sockets(False)
    original = WSStream.__dict__["_handle_events"]
    assert original.__module__ == "hypercorn.protocol.ws_stream"
    close_refused_sockets()
    assert WSStream.__dict__["_handle_events"] is not original
    del handle_events


class PingingStream:
    """What `WSStream._send_pings` reads of its stream."""

    def __init__(self) -> None:
        from hypercorn.asyncio.worker_context import WorkerContext

        self.closed = False
        self.context = WorkerContext(None)
        self.config = type("Config", (), {"websocket_ping_interval": 30.0})()
        self.pings = 0

    async def _send_wsproto_event(self, event: Any) -> None:
        self.pings += 1


async def ping_loop_ends_at_shutdown() -> bool:
    stream = PingingStream()
    loop = asyncio.create_task(WSStream._send_pings(stream))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    await stream.context.terminated.set()  # the server begins to stop
    done, _ = await asyncio.wait([loop], timeout=1)
    loop.cancel()
    assert stream.pings == 1
    return bool(done)


async def test_a_ping_loop_ends_when_the_server_stops_while_applied() -> None:
    pings_end_at_shutdown()
    assert await ping_loop_ends_at_shutdown()


async def test_a_ping_loop_sleeps_its_interval_out_when_reverted() -> None:
    pings_end_at_shutdown(False)
    assert not await ping_loop_ends_at_shutdown()


def test_applying_again_replaces_instead_of_wrapping() -> None:
    cache_text_frames(256)
    cache_text_frames(4)
    assert CACHE_TEXT_FRAMES.entries == 4
    CACHE_TEXT_FRAMES.revert()
    assert Connection.__dict__["send"] is ORIGINAL_SEND  # not the 256-entry wrapper


# -- the fast send path of a live room socket ---------------------------------------------
async def sender_of_a_new_socket(app: Quart, person_factory: Any) -> Any:
    """The sender the hub got for a room socket that has just received its first message."""
    hub = app.extensions["tac"].hub
    before = set(hub.connections)
    person = await person_factory()
    async with person.connect("general") as ws:
        await hello(ws, 0)
        body = f"which sender {secrets.token_hex(3)}"
        await ws.send(json.dumps({"body": body}))
        await receive_until(ws, lambda text: body in text)
        (conn,) = [c for c in hub.connections - before if c.send is not None]
        return conn.send


async def test_a_live_socket_sends_with_quarts_own_sender(app: Quart, person_factory: Any) -> None:
    send_directly()
    send = await sender_of_a_new_socket(app, person_factory)
    # Websocket._send: Quart's ASGI sender of one frame, bound to this socket's `send`.
    assert isinstance(send, functools.partial)
    assert send.func.__func__ is ASGIWebsocketConnection.send_data


async def test_a_live_socket_sends_with_websocket_send_when_turned_off(
    app: Quart, person_factory: Any
) -> None:
    send_directly(False)
    send = await sender_of_a_new_socket(app, person_factory)
    assert send.__func__ is Websocket.send


# -- a patch that no longer fits fails loudly ---------------------------------------------
def test_a_patch_whose_target_is_gone_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    REFUSE_WS_COMPRESSION.revert()
    monkeypatch.delattr(Handshake, "accept")
    with pytest.raises(PatchError, match=r"Handshake\.accept"):
        REFUSE_WS_COMPRESSION.apply()
    assert not REFUSE_WS_COMPRESSION.applied


def test_a_patch_over_someone_elses_function_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    CACHE_TEXT_FRAMES.revert()
    monkeypatch.setattr(Connection, "send", lambda self, event: b"")
    with pytest.raises(PatchError, match="wsproto"):
        cache_text_frames(4)


def test_the_fast_send_raises_when_quart_keeps_no_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    SEND_DIRECTLY.revert()
    monkeypatch.setattr(Websocket, "__init__", lambda self, *args: None)
    with pytest.raises(PatchError, match="_send"):
        send_directly()
    assert not SEND_DIRECTLY.applied


def test_another_installed_version_is_logged_as_an_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(CACHE_TEXT_FRAMES, "written_for", "0.0.1")
    with caplog.at_level(logging.ERROR, logger="tac.patches"):
        cache_text_frames(4)
    assert "written for wsproto 0.0.1" in caplog.text


# -- pins ----------------------------------------------------------------------------------
@pytest.mark.parametrize("patch", ALL, ids=lambda p: p.name)
def test_each_patch_was_written_for_the_installed_and_pinned_version(
    patch: patches.Patch, repo_root: Path
) -> None:
    pin = f"{patch.library}=={patch.written_for}"
    assert importlib.metadata.version(patch.library) == patch.written_for, (
        f"{patch.name} was written for {pin}: check it against the installed version, "
        "then update its constant in tac/patches.py, pyproject.toml and the locks (make lock)"
    )
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert pin in pyproject["project"]["dependencies"]
    for lock in ("dev.lock", "bench.lock"):
        assert f"\n{pin} " in (repo_root / "requirements" / lock).read_text().lower()


def test_quart_schema_is_pinned_to_the_installed_version(repo_root: Path) -> None:
    """web/api subclasses quart-schema's OpenAPIProvider."""
    pin = f"quart-schema=={importlib.metadata.version('quart-schema')}"
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert pin in pyproject["project"]["dependencies"]


# -- the frame cache itself (moved from tests/test_server.py) -----------------------------
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
    assert conn.send(TextMessage(data=texts[-5])) is not frames[-5]  # 4 entries, not 256


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
