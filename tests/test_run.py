"""`tac run` as a new user meets it (issue 13): the address said once, a prompt and quiet
stop with sockets open, and a restart right after a stop, with the embedded database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from tac.embedded import EmbeddedMongo, free_port
from tac.settings import Settings
from tests.conftest import Person, attached, hello, receive_until
from tests.waiting import wait_until


class TacRun:
    """`python -m tac.cli run` in a process of its own, its output in a file."""

    def __init__(self, var_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.log = var_dir / f"run-{self.port}.log"
        var_dir.mkdir(parents=True, exist_ok=True)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TAC_")}
        environ.update(
            TAC_SECRET_KEY="test-secret",
            TAC_PORT=str(self.port),
            TAC_VAR_DIR=str(var_dir),
            TAC_LOG_FORMAT="text",
            **env,
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tac.cli", "run"],
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self, seconds: float = 60) -> None:
        async with httpx.AsyncClient() as client:

            async def answers() -> bool:
                assert self.process.poll() is None, self.output
                return (await client.get(f"{self.url}/readyz")).status_code == 200

            await wait_until(
                answers, seconds, what="tac run is ready", ignore=(httpx.TransportError,)
            )

    async def exited(self, seconds: float) -> int:
        return await asyncio.wait_for(asyncio.to_thread(self.process.wait), seconds)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def test_the_address_is_said_once_and_a_stop_with_sockets_open_is_prompt_and_quiet(
    settings: Settings, app: Any, tmp_path: Path
) -> None:
    run = TacRun(tmp_path, TAC_MONGO_URL=str(settings.mongo_url), TAC_MONGO_DB=settings.mongo_db)
    person = Person(run.url)
    try:
        await run.ready()
        assert run.output.count(f"http://127.0.0.1:{run.port}") == 1, run.output
        await person.register()
        async with person.connect("general") as first, person.connect("general") as second:
            await hello(first, 10**9)
            await attached(first)
            # The same person's second socket announces nothing (one person online): it is
            # attached once its hello is answered.
            await hello(second, 10**9)
            await receive_until(second, lambda text: 'id="room-mark"' in text)
            stopping = time.monotonic()
            run.process.send_signal(signal.SIGINT)  # Ctrl+C
            assert await run.exited(15) == 0
            took = time.monotonic() - stopping
        # Before: each closed socket's ping loop held the server for its graceful timeout.
        assert took < Settings().graceful_timeout_seconds - 1, f"stopped in {took:.1f} s"
        assert "Traceback" not in run.output and "ERROR" not in run.output, run.output
    finally:
        run.kill()
        await person.close()


def test_a_start_waits_for_the_database_of_a_run_still_stopping(tmp_path: Path) -> None:
    data = tmp_path / "mongo"
    previous = EmbeddedMongo(data)
    with MongoClient[dict[str, Any]](previous.start()) as client:
        client.tac.notes.insert_one({"kept": True})
    assert previous.process is not None
    previous.process.terminate()  # stopping, still holding the data's lock for a while
    following = EmbeddedMongo(data)
    try:
        with MongoClient[dict[str, Any]](following.start()) as client:
            assert client.tac.notes.count_documents({"kept": True}) == 1
    finally:
        following.stop()
        previous.process.wait()


async def test_ctrl_c_twice_then_run_again_with_the_embedded_database(tmp_path: Path) -> None:
    first = TacRun(tmp_path / "var")
    try:
        await first.ready()
        first.process.send_signal(signal.SIGINT)

        async def stopping_the_database() -> bool:
            return "stopping the embedded database" in first.output

        await wait_until(stopping_the_database, 15, what="the database is being stopped")
        first.process.send_signal(signal.SIGINT)  # impatient
        assert await first.exited(20) == 0
        assert "Traceback" not in first.output, first.output
        assert "embedded database stopped" in first.output, first.output
    finally:
        first.kill()
    again = TacRun(tmp_path / "var")
    try:
        await again.ready()
    finally:
        again.process.send_signal(signal.SIGINT)
        await again.exited(20)
        again.kill()
