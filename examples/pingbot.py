"""A Tac bot that answers `!ping` with `pong`, using only the public API (httpx + websockets).

    python examples/pingbot.py --url http://127.0.0.1:8000 --room general \\
        --username pingbot --password 'a long password' [--register]

It gets a token (or takes TAC_BOT_TOKEN), joins the room, listens on the event stream and,
when the stream drops, reconnects with `since` so it misses nothing and answers nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import httpx
import websockets


async def token_for(http: httpx.AsyncClient, username: str, password: str, register: bool) -> str:
    credentials = {"username": username, "password": password}
    if register:
        created = await http.post("/users", json=credentials)
        if created.status_code != 409:  # 409: the account exists already
            created.raise_for_status()
    issued = await http.post("/tokens", json={**credentials, "name": "pingbot"})
    issued.raise_for_status()
    token: str = issued.json()["token"]
    return token


async def run(
    url: str, room: str, username: str, password: str, *, token: str = "", register: bool = False
) -> None:
    api = url.rstrip("/") + "/api/v1"
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        token = token or await token_for(http, username, password, register)
        http.headers["Authorization"] = f"Bearer {token}"
        me = (await http.get("/users/me")).raise_for_status().json()
        joined = (await http.post(f"/rooms/{room}/join")).raise_for_status().json()
        since = joined["last_seq"]  # answer what comes after we arrive, not the old pings
        while True:
            stream = api.replace("http", "ws", 1) + f"/stream?since={room}:{since}"
            try:
                async with websockets.connect(
                    stream, additional_headers={"Authorization": f"Bearer {token}"}
                ) as ws:
                    async for frame in ws:
                        for event in map(json.loads, str(frame).splitlines()):
                            if event["type"] == "stream.ready":
                                print(f"pingbot: listening in #{room}", flush=True)
                            if event["type"] != "message.posted" or event["room"] != joined["id"]:
                                continue
                            since = event["seq"]
                            message = event["message"]
                            if message["author"] != me["id"] and message["body"] == "!ping":
                                answer = {"body": "pong"}
                                await http.post(f"/rooms/{room}/messages", json=answer)
            except (OSError, websockets.ConnectionClosed) as lost:
                print(f"pingbot: stream lost ({lost}); reconnecting", file=sys.stderr)
                await asyncio.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description="Answer !ping with pong in a Tac room.")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--room", default="general")
    parser.add_argument("--username", default="pingbot")
    parser.add_argument("--password", default="")
    parser.add_argument("--register", action="store_true", help="create the account if needed")
    args = parser.parse_args()
    token = os.environ.get("TAC_BOT_TOKEN", "")
    if not token and not args.password:
        parser.error("give --password (or set TAC_BOT_TOKEN)")
    asyncio.run(
        run(args.url, args.room, args.username, args.password, token=token, register=args.register)
    )


if __name__ == "__main__":
    main()
