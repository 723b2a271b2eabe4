"""An instance that stops closes its sockets with 1012, so htmx reconnects elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any

import websockets

from tac.app import close_sockets_for_restart, create_app
from tac.embedded import free_port
from tac.settings import Settings
from tests.conftest import Person, hello, start_server


async def test_stopping_an_instance_closes_sockets_with_1012(settings: Settings, app: Any) -> None:
    mine = settings.model_copy(update={"port": free_port(), "instance_id": "leaving"})
    second = create_app(mine)
    stop, task = await start_server(second, mine)
    person = Person(f"http://{mine.host}:{mine.port}")
    await person.register()
    try:
        async with person.connect("general") as ws:
            await hello(ws, 10**9)
            await asyncio.sleep(0.2)
            await close_sockets_for_restart(second)
            stop.set()
            try:
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1012
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await person.close()
