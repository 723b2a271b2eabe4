"""What one running instance holds: made at startup (app.py), read by the web layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from tac.chat import Chat
from tac.hub import Hub
from tac.settings import Settings


@dataclass
class Runtime:
    """Created at startup, closed at shutdown."""

    settings: Settings
    chat: Chat
    hub: Hub
    mongo: AsyncMongoClient[dict[str, Any]]
