"""An instance that stops closes its sockets with 1012, so htmx reconnects elsewhere."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import httpx
import websockets

from tac.embedded import free_port
from tac.settings import Settings
from tests.conftest import Person, attached, hello
from tests.waiting import wait_until


async def test_stopping_an_instance_closes_sockets_with_1012(settings: Settings, app: Any) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TAC_MONGO_URL": str(settings.mongo_url),
        "TAC_MONGO_DB": settings.mongo_db,
        "TAC_SECRET_KEY": "test-secret",
        "TAC_PORT": str(port),
        "TAC_VAR_DIR": str(settings.var_dir / "leaving"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tac.cli", "run"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    person = Person(f"http://127.0.0.1:{port}")
    try:

        async def ready() -> bool:
            return (await person.http.get("/readyz")).status_code == 200

        await wait_until(ready, 30, what="the instance is ready", ignore=(httpx.TransportError,))
        await person.register()
        async with person.connect("general") as ws:
            await hello(ws, 10**9)
            await attached(ws)  # the instance holds the socket in its room
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1012
        out, err = await asyncio.to_thread(process.communicate, timeout=15)
        assert process.returncode == 0
        # A stop with sockets open is routine: no tracebacks, no errors in the log.
        assert "Traceback" not in out + err and "CancelledError" not in out + err, out + err
        assert '"level": "ERROR"' not in out + err, out + err
    finally:
        if process.poll() is None:
            process.kill()
        await person.close()
