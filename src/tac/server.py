"""How Tac is served: Hypercorn (the default) tuned for fan-out, or uvicorn for comparison.

Four things Hypercorn has no setting for, applied by `tune_hypercorn` (the patches
themselves, and why, are in tac.patches): permessage-deflate is refused unless
TAC_WS_COMPRESSION (a zlib stream per socket costs 300 KB and compresses every frame again
for every socket), a server text frame is built once per text, not once per socket (the
hub hands every socket the same string), a socket refused for an oversized frame loses
its TCP connection at once, and a stopping server does not wait a ping interval for each
socket it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import stat
from collections.abc import Callable
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from tac import patches
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
    # Hypercorn's own handler on this logger would print each line ("Running on ...") a
    # second time, beside the root handler it propagates to.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def tune_hypercorn(settings: Settings) -> None:
    """What Hypercorn has no setting for (tac.patches): refuse permessage-deflate unless
    TAC_WS_COMPRESSION, frame each text once for all sockets, close a socket's TCP
    connection once it was refused for an oversized frame, and end the ping loops when
    the server stops. Applying again with other
    settings replaces what was applied."""
    patches.refuse_ws_compression(not settings.ws_compression)
    patches.cache_text_frames(settings.ws_frame_cache_entries)
    patches.close_refused_sockets()
    patches.pings_end_at_shutdown()


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
        loop.set_exception_handler(quiet_cancellations(loop.get_exception_handler()))
        await close_sockets_for_restart(app)

    await serve(app, hypercorn_config(settings), shutdown_trigger=shutdown_trigger)


Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def quiet_cancellations(previous: Handler | None) -> Handler:
    """The loop's exception handler while the server stops.

    Hypercorn cancels each connection's task when it stops, and Python 3.11's asyncio
    (streams.StreamReaderProtocol) then logs the task's CancelledError with a traceback as
    an ERROR, once per open socket. A stop with sockets open is routine (they were closed
    with 1012 just before): drop exactly those reports, pass everything else on.
    """

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    return handle


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
