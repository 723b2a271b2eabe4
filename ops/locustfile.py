"""Locust: what people do in Tac today, and the original project's 530-client scenario.

    make load                                  # the mix, 60 s, against `make stack` (:8080)
    make load SCENARIO=original                # 530 clients, 3 messages each, one room

or by hand (headless, bounded):

    locust -f ops/locustfile.py --headless -H http://127.0.0.1:8080 --run-time 60s \\
        --scenario mix --users 50 --spawn-rate 10
    locust -f ops/locustfile.py --headless -H http://127.0.0.1:8080 --run-time 90s \\
        --scenario original

`mix`: BrowserUser (3 of 4) signs up through the form, opens #general's page and its
WebSocket like the browser, pages back through history and posts on the socket every few
seconds; ApiUser (1 of 4) signs up over the JSON API, takes a token, keeps the event
stream (/api/v1/stream) open, lists rooms, reads and pages history and posts over the API.

`original`: 530 browser-like clients join one room (#general), each posts 3 messages;
every client times each message of the room from its post to its arrival.

Every WebSocket receipt of a message is reported as a request named `WS receive` (its
"response time" is post -> receipt in ms, from the timestamp the poster put in the body),
so Locust's table and percentiles show delivery latency beside the HTTP calls. For the
fan-out numbers with a cheaper load generator, use `make bench` (ops/bench/).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import secrets
import time
from typing import Any

import gevent
import websocket
from locust import HttpUser, LoadTestShape, between, events, task
from locust.env import Environment

ROOM = "general"
PASSWORD = "locust-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SEQ = re.compile(r'data-seq="(\d+)"')
STAMP = re.compile(r"\bt=(\d{13,})\b")
"""Posts carry `t=<ms since epoch>`; receivers time them against their own clock."""


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--scenario", choices=["mix", "original"], default="mix")
    parser.add_argument("--original-clients", type=int, default=530)
    parser.add_argument("--original-messages", type=int, default=3)
    parser.add_argument(
        "--original-spawn-rate", type=float, default=10.0, help="sign-ups (argon2) per second"
    )


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://").replace("https://", "wss://") + path


def stamped(text: str) -> str:
    return f"{text} t={int(time.time() * 1000)}"


class Receiver:
    """A socket read in its own greenlet; each message's delivery is reported to Locust."""

    def __init__(self, environment: Environment, name: str, sock: websocket.WebSocket) -> None:
        self.environment = environment
        self.name = name
        self.sock = sock
        self.received = 0
        self.opened_ms = int(time.time() * 1000) - 1000
        """Older messages are the catch-up of the room, not deliveries to time."""
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        fire = self.environment.events.request.fire
        while True:
            try:
                frame = self.sock.recv()
            except Exception:
                return
            now = time.time() * 1000
            text = frame if isinstance(frame, str) else frame.decode()
            for stamp in STAMP.findall(text):
                if int(stamp) < self.opened_ms:
                    continue
                self.received += 1
                fire(
                    request_type="WS",
                    name=self.name,
                    response_time=max(0.0, now - int(stamp)),
                    response_length=len(text),
                    exception=None,
                    context={},
                )

    def close(self) -> None:
        self.greenlet.kill(block=False)
        with contextlib.suppress(Exception):
            self.sock.close()


class RoomSocketUser(HttpUser):
    """Signs up through the form, opens #general's page and its socket, posts on it."""

    abstract = True
    receive_name = "WS receive (room page)"

    def on_start(self) -> None:
        self.username = "lb" + secrets.token_hex(5)
        page = self.client.get("/register", name="/register").text
        token = CSRF.search(page)
        self.client.post(
            "/register",
            data={
                "username": self.username,
                "password": PASSWORD,
                "display_name": self.username,
                "csrf_token": token.group(1) if token else "",
            },
            name="/register",
        )
        self.open_room()

    def open_room(self) -> None:
        page = self.client.get(f"/rooms/{ROOM}", name="/rooms/[slug]").text
        seqs = [int(s) for s in SEQ.findall(page)]
        self.oldest = min(seqs, default=0)
        cookie = self.client.cookies.get("session")
        started = time.time()
        try:
            sock = websocket.create_connection(
                ws_url(self.host, f"/rooms/{ROOM}/ws"),
                cookie=f"session={cookie}",
                origin=self.host,
                timeout=30,
            )
            sock.send(json.dumps({"hello": True, "last_seq": max(seqs, default=0)}))
            sock.settimeout(None)
        except Exception as e:
            self._fire("WS connect", started, e)
            raise
        self._fire("WS connect", started, None)
        self.socket = Receiver(self.environment, self.receive_name, sock)

    def _fire(self, name: str, started: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.time() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def post(self, text: str) -> None:
        if self.socket.greenlet.dead:  # closed by the server: reconnect, as htmx does
            self.socket.close()
            self.open_room()
        started = time.time()
        try:
            self.socket.sock.send(json.dumps({"body": stamped(text)}))
        except Exception as e:
            self._fire("WS post", started, e)
            raise
        self._fire("WS post", started, None)

    def on_stop(self) -> None:
        if hasattr(self, "socket"):
            self.socket.close()


class BrowserUser(RoomSocketUser):
    """A person in the browser: the form, the room page, its socket, history, the composer."""

    weight = 3
    wait_time = between(3, 10)

    @task(3)
    def say_something(self) -> None:
        self.post(random.choice(["hi", "deploy done", "lunch?", "LGTM", "looking"]))

    @task(2)
    def page_back(self) -> None:
        if self.oldest > 1:
            self.client.get(
                f"/rooms/{ROOM}/history?before={self.oldest}", name="/rooms/[slug]/history"
            )
            self.oldest = max(1, self.oldest - 50)

    @task(1)
    def reload_room(self) -> None:
        self.socket.close()
        self.open_room()


class ApiUser(HttpUser):
    """A bot or script: the JSON API with a bearer token, and the event stream."""

    weight = 1
    wait_time = between(2, 8)

    def on_start(self) -> None:
        name = "la" + secrets.token_hex(5)
        self.client.post(
            "/api/v1/users",
            json={"username": name, "password": PASSWORD, "display_name": name},
            name="/api/v1/users",
        )
        answer = self.client.post(
            "/api/v1/tokens",
            json={"username": name, "password": PASSWORD, "name": "locust"},
            name="/api/v1/tokens",
        ).json()
        self.client.headers["Authorization"] = f"Bearer {answer['token']}"
        started = time.time()
        sock = websocket.create_connection(
            ws_url(self.host, "/api/v1/stream"),
            header=[f"Authorization: Bearer {answer['token']}"],
            timeout=30,
        )
        sock.settimeout(None)
        self.environment.events.request.fire(
            request_type="WS",
            name="WS connect (stream)",
            response_time=(time.time() - started) * 1000,
            response_length=0,
            exception=None,
            context={},
        )
        self.stream = Receiver(self.environment, "WS receive (stream)", sock)
        self.before: int | None = None

    def on_stop(self) -> None:
        if hasattr(self, "stream"):
            self.stream.close()

    @task(2)
    def list_rooms(self) -> None:
        self.client.get("/api/v1/rooms", name="/api/v1/rooms")

    @task(4)
    def read_latest(self) -> None:
        page = self.client.get(
            f"/api/v1/rooms/{ROOM}/messages", name="/api/v1/rooms/[slug]/messages"
        ).json()
        messages = page.get("messages", [])
        self.before = messages[0]["seq"] if messages else None

    @task(2)
    def page_back(self) -> None:
        if self.before and self.before > 1:
            page = self.client.get(
                f"/api/v1/rooms/{ROOM}/messages?before={self.before}",
                name="/api/v1/rooms/[slug]/messages?before",
            ).json()
            messages = page.get("messages", [])
            self.before = messages[0]["seq"] if messages else None

    @task(1)
    def post(self) -> None:
        self.client.post(
            f"/api/v1/rooms/{ROOM}/messages",
            json={"body": stamped("from the API")},
            name="/api/v1/rooms/[slug]/messages POST",
        )


class OriginalChatter(RoomSocketUser):
    """The original project's client: join the room, post 3 messages, keep listening."""

    weight = 1  # only the `original` scenario's shape asks for this class
    wait_time = between(1, 3)
    receive_name = "WS receive (original)"

    def on_start(self) -> None:
        super().on_start()
        self.left = self.environment.parsed_options.original_messages

    @task
    def say_hello(self) -> None:
        if self.left > 0:
            self.left -= 1
            self.post(f"{self.username} says hello")


class TacShape(LoadTestShape):
    """`--scenario mix`: --users (default 50) people at --spawn-rate, BrowserUser and ApiUser.
    `--scenario original`: 530 OriginalChatters, spawned at --original-spawn-rate (10/s: each
    signs up, and argon2 hashing is what a wave of sign-ups waits for). Both stop at
    --run-time."""

    def tick(self) -> tuple[int, float, list[type[HttpUser]]] | None:
        options = self.runner.environment.parsed_options  # type: ignore[union-attr]
        if options.run_time and self.get_run_time() > options.run_time:
            return None
        if options.scenario == "original":
            return options.original_clients, options.original_spawn_rate, [OriginalChatter]
        return options.num_users or 50, options.spawn_rate or 10.0, [BrowserUser, ApiUser]
