"""How Tac is served: Hypercorn (the default) tuned for fan-out, or uvicorn for comparison.

Three things Hypercorn (0.18, pinned) has no setting for, applied once per process by
`tune_hypercorn`: permessage-deflate is refused unless TAC_WS_COMPRESSION (a zlib stream per
socket costs 300 KB and compresses every frame again for every socket), a server text frame
is built once per text, not once per socket (the hub hands every socket the same string),
and a socket refused for an oversized frame loses its TCP connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import stat
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from tac.app import close_sockets_for_restart, create_app
from tac.settings import Settings


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    if settings.unix_socket is not None:
        config.bind.append(f"unix:{settings.unix_socket}")
    config.backlog = settings.backlog
    config.websocket_ping_interval = settings.ws_ping_interval_seconds
    config.websocket_max_message_size = settings.ws_max_message_bytes
    config.graceful_timeout = settings.graceful_timeout_seconds
    config.accesslog = None
    return config


def tune_hypercorn(settings: Settings) -> None:
    if not settings.ws_compression:
        refuse_ws_compression()
    cache_text_frames(settings.ws_frame_cache_entries)
    close_after_oversized_frames()


def close_after_oversized_frames() -> None:
    """Drop the connection once a frame over websocket_max_message_size was refused.

    Hypercorn 0.18 answers such a frame with a 1009 close and stops reading, but keeps the
    TCP connection and leaves the app waiting until the client answers the close, which a
    client sending oversized frames need not do: the socket stayed up to a ping interval.
    After the 1009 is sent, the stream is ended now, as when the client's close arrives.
    """
    from hypercorn.protocol import ws_stream
    from hypercorn.protocol.events import StreamClosed
    from wsproto.connection import ConnectionState

    handle = ws_stream.WSStream._handle_events
    if getattr(handle, "closes_oversized", False):
        return

    async def handle_then_close(self: Any) -> None:
        await handle(self)
        # Only the refusal leaves the app's side open with our close sent (the app's own
        # close moves self.state to CLOSED first).
        if (
            self.state is ws_stream.ASGIWebsocketState.CONNECTED
            and self.connection.state is ConnectionState.LOCAL_CLOSING
        ):
            await self.send(StreamClosed(stream_id=self.stream_id))

    handle_then_close.closes_oversized = True  # type: ignore[attr-defined]
    ws_stream.WSStream._handle_events = handle_then_close  # type: ignore[method-assign]


def refuse_ws_compression() -> None:
    """Make Hypercorn decline permessage-deflate; it has no setting of its own for that.

    Hypercorn accepts the extension whenever the client offers it, and browsers always do.
    Then every socket keeps its own zlib stream and compresses every frame itself: the same
    fragment is compressed once per socket, not once per room (TAC_WS_COMPRESSION).
    """
    from hypercorn.protocol import ws_stream

    accept = ws_stream.Handshake.accept
    if getattr(accept, "refuses_compression", False):
        return

    def accept_uncompressed(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.extensions = None  # as if the client had offered none
        return accept(self, *args, **kwargs)

    accept_uncompressed.refuses_compression = True  # type: ignore[attr-defined]
    ws_stream.Handshake.accept = accept_uncompressed  # type: ignore[method-assign]


def cache_text_frames(entries: int) -> None:
    """Frame each text once for all sockets: wsproto builds the frame again for every one.

    A server's frame is not masked, so without an extension it depends on the text alone:
    the hub gives every socket of a room the same string, and each socket's wsproto
    encodes it to UTF-8, builds the header and copies the payload (a sixth of an
    instance's CPU in the fan-out, BENCHMARKS.md). The last `entries` frames are kept,
    keyed by their text. Frames under an extension (compression) or split into several
    messages are built as before.
    """
    from wsproto.connection import Connection, ConnectionState
    from wsproto.events import TextMessage

    send = Connection.send
    if entries <= 0 or getattr(send, "caches_frames", False):
        return
    frames: dict[str, bytes] = {}

    def send_cached(self: Connection, event: Any) -> bytes:
        if type(event) is TextMessage and event.message_finished:
            proto = self._proto
            if (
                self._state is ConnectionState.OPEN
                and not proto.client
                and not proto.extensions
                and proto._outbound_opcode is None
            ):
                text = event.data
                frame = frames.get(text)
                if frame is None:
                    frame = frames[text] = bytes(send(self, event))
                    if len(frames) > entries:
                        del frames[next(iter(frames))]  # the oldest
                return frame
        return send(self, event)

    send_cached.caches_frames = True  # type: ignore[attr-defined]
    Connection.send = send_cached  # type: ignore[method-assign]


async def serve_app(settings: Settings) -> None:
    app = create_app(settings)
    if settings.server == "uvicorn":
        await serve_with_uvicorn(app, settings)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        await close_sockets_for_restart(app)

    await serve(app, hypercorn_config(settings), shutdown_trigger=shutdown_trigger)


async def serve_with_uvicorn(app: Quart, settings: Settings) -> None:
    """The same app under uvicorn, for comparison (BENCHMARKS.md). uvicorn handles SIGTERM
    itself and closes sockets with 1012 on shutdown."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        backlog=settings.backlog,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
        lifespan="on",
        access_log=False,
        log_config=None,
    )
    server = uvicorn.Server(config)
    if settings.unix_socket is None:
        await server.serve()
        return
    # uvicorn binds one address; for both, hand it the two sockets (and, like Hypercorn,
    # replace a socket file a stopped instance left behind).
    sockets = [config.bind_socket()]
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(settings.unix_socket.stat().st_mode):
            settings.unix_socket.unlink()
    config.uds = str(settings.unix_socket)
    sockets.append(config.bind_socket())
    await server.serve(sockets=sockets)
