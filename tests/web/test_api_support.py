"""What the API tests share: people who use Tac only through /api/v1. (No tests here.)"""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Any

import httpx
import websockets

API = "/api/v1"
PASSWORD = "correct horse battery"


class ApiUser:
    """Someone with an account and a bearer token, and an HTTP client that sends it."""

    def __init__(self, base_url: str, username: str, token: str, user_id: str) -> None:
        self.base_url = base_url
        self.username = username
        self.token = token
        self.id = user_id
        self.http = httpx.AsyncClient(
            base_url=base_url + API, headers={"Authorization": f"Bearer {token}"}
        )

    async def new_room(self, title: str = "") -> dict[str, Any]:
        title = title or f"room {secrets.token_hex(4)}"
        response = await self.http.post("/rooms", json={"title": title})
        assert response.status_code == 201, response.text
        room: dict[str, Any] = response.json()
        return room

    async def post(self, slug: str, body: str) -> dict[str, Any]:
        response = await self.http.post(f"/rooms/{slug}/messages", json={"body": body})
        assert response.status_code == 201, response.text
        message: dict[str, Any] = response.json()
        return message

    def stream(self, query: str = "") -> Any:
        url = self.base_url.replace("http", "ws", 1) + f"{API}/stream"
        return websockets.connect(
            url + (f"?{query}" if query else ""),
            additional_headers={"Authorization": f"Bearer {self.token}"},
        )


class ApiUsers:
    """Makes ApiUsers over the API itself, and closes their clients at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.made: list[ApiUser] = []
        self.anonymous = httpx.AsyncClient(base_url=base_url + API)

    async def new(self) -> ApiUser:
        username = f"api_{secrets.token_hex(4)}"
        created = await self.anonymous.post(
            "/users", json={"username": username, "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        issued = await self.anonymous.post(
            "/tokens", json={"username": username, "password": PASSWORD, "name": "tests"}
        )
        assert issued.status_code == 201, issued.text
        user = ApiUser(self.base_url, username, issued.json()["token"], created.json()["id"])
        self.made.append(user)
        return user

    async def __aenter__(self) -> ApiUsers:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for user in self.made:
            await user.http.aclose()
        await self.anonymous.aclose()


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """An API error: the status, JSON (never an HTML page), {"error": {"code", "message"}}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
