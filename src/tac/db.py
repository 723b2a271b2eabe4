"""The thin database module: connect PyMongo's async client and bind the Beanie documents."""

from __future__ import annotations

import asyncio
import contextlib

from beanie import init_beanie
from pymongo import AsyncMongoClient

from tac.models import DOCUMENTS


async def connect(url: str, db_name: str) -> AsyncMongoClient[dict[str, object]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000
    )
    await init_beanie(database=client[db_name], document_models=DOCUMENTS)
    return client


async def ping(client: AsyncMongoClient[dict[str, object]], timeout: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(client.admin.command("ping"), timeout)
    except Exception:
        return False
    return True


async def close(client: AsyncMongoClient[dict[str, object]], timeout: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.close(), timeout)
