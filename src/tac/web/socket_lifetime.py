"""The lifetime of one live socket, shared by the browser's room socket and the API stream.

A socket is attached to the hub for its rooms and counted as online there; then its writer
and its reader run until one ends or the hub asks it to close; then everything is undone,
and the socket is closed with the code the hub chose. An unexpected error closes it with
1011, which htmx (and our bots) answer by reconnecting and catching up by seq; a clean
1000 would leave the page disconnected for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from quart import websocket

from tac.hub import Connection
from tac.patches import fast_websocket_send
from tac.web import chat, hub

log = logging.getLogger(__name__)


class BadFrame(Exception):
    """A client's frame that no valid client sends: the socket is closed with 1007."""


@contextlib.asynccontextmanager
async def attached(conn: Connection, room_ids: list[str]) -> AsyncIterator[None]:
    """The socket receives its rooms' events and counts as online there while inside."""
    try:
        for room in room_ids:  # subscribe first: nothing published after a catch-up is lost
            await hub().attach(conn, room)
        for room in room_ids:
            await chat().presence.arrive(room, conn.user)
        yield
    except BadFrame as e:
        log.info("socket of user %s sent a bad frame: %s", conn.user, e)
        conn.close(1007)
    except Exception:
        log.exception("socket of user %s failed", conn.user)
        conn.close(1011)
    finally:
        await hub().detach(conn)
        for room in room_ids:
            await chat().presence.leave(room, conn.user)
    if conn.close_code != 1000:
        with contextlib.suppress(Exception):
            await websocket.close(conn.close_code)


async def run_until_closed(conn: Connection, reader: Coroutine[Any, Any, None]) -> None:
    """Write queued frames and run `reader` until either ends or the hub closes the socket."""
    tasks = [
        asyncio.create_task(write_frames(conn)),
        asyncio.create_task(reader),
        asyncio.create_task(conn.closing.wait()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        if task.cancelled() or (error := task.exception()) is None:
            continue
        if isinstance(error, BadFrame):
            log.info("socket of user %s sent a bad frame: %s", conn.user, error)
            conn.close(1007)
        else:
            log.error("socket of user %s failed", conn.user, exc_info=error)
            conn.close(1011)


async def write_frames(conn: Connection) -> None:
    # The accepted socket's own sender, not websocket.send(): see tac.patches.SendDirectly.
    await conn.write(fast_websocket_send(websocket))
