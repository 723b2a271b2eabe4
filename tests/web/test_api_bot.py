"""The example bot, run as its own process against the live app, answers !ping with pong."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.web.test_api_support import PASSWORD, ApiUsers


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


async def test_pingbot_answers_ping_with_pong(
    api: ApiUsers, base_url: str, repo_root: Path
) -> None:
    alice = await api.new()
    room = await alice.new_room()
    await alice.post(room["slug"], "!ping")  # from before the bot came: not answered
    bot_name = f"pingbot_{secrets.token_hex(3)}"
    bot = await asyncio.create_subprocess_exec(
        sys.executable, str(repo_root / "examples" / "pingbot.py"),
        "--url", base_url, "--room", room["slug"],
        "--username", bot_name, "--password", PASSWORD, "--register",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert bot.stdout is not None
        line = await asyncio.wait_for(bot.stdout.readline(), 20)
        assert b"listening" in line
        async with alice.stream(f"since={room['slug']}:{1}") as ws:
            await alice.post(room["slug"], "!ping")
            await alice.post(room["slug"], "ping, but not a command")
            async with asyncio.timeout(10):
                while True:
                    found = [json.loads(x) for x in str(await ws.recv()).splitlines()]
                    if any(e.get("message", {}).get("body") == "pong" for e in found):
                        break
        page = (await alice.http.get(f"/rooms/{room['slug']}/messages")).json()["messages"]
        answers = [(m["author_name"], m["body"]) for m in page if m["body"] == "pong"]
        assert answers == [(bot_name, "pong")]  # one pong: for the ping after it arrived
    finally:
        bot.terminate()
        await bot.wait()
