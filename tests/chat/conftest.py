"""Use cases called directly, on the real database the session's app initialised."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from quart import Quart

from tac.chat import Chat
from tac.chat.accounts import register
from tac.models import User
from tests.conftest import unique


@pytest.fixture
def chat(app: Quart) -> Chat:
    found: Chat = app.extensions["tac"].chat
    return found


def changed(chat: Chat, **settings: Any) -> Chat:
    """The same chat with some settings changed, leaving the session's settings alone."""
    return dataclasses.replace(chat, settings=chat.settings.model_copy(update=settings))


async def new_user(chat: Chat, prefix: str = "user") -> User:
    return await register(chat, unique(prefix), "correct horse")
