"""The bench's preloaded database (ops/bench/preload.py) is shaped as the app writes it."""

from __future__ import annotations

import secrets
from typing import Any

from pymongo import MongoClient

from ops.bench import preload
from tac.models.message import Message


def test_a_small_preload_is_numbered_indexed_and_made_once(mongo_url: str) -> None:
    # A database of its own on the session's server: a preload replaces what it fills.
    db_name = f"tac_test_preload_{secrets.token_hex(4)}"
    sizes = preload.Sizes(users=1_000, rooms=10, messages=10_000)
    lines: list[str] = []
    marker = preload.fill(mongo_url, db_name, sizes, log=lines.append)
    with MongoClient[dict[str, Any]](mongo_url, tz_aware=True) as client:
        db = client[db_name]
        try:
            assert db["users"].count_documents({}) == 1_000
            assert db["memberships"].count_documents({}) == marker["memberships"] == 3_000
            assert db["messages"].count_documents({}) == 10_000
            general = db["rooms"].find_one({"slug": "room0000"})
            assert general is not None
            assert db["memberships"].count_documents({"room": general["_id"]}) == 1_000
            for room in db["rooms"].find():
                seqs = sorted(m["seq"] for m in db["messages"].find({"room": room["_id"]}))
                assert seqs == list(range(1, room["last_seq"] + 1))
            # A page as messages_between reads it: records the app takes as they are.
            last = general["last_seq"]
            query = {"room": general["_id"], "seq": {"$gte": last - 49, "$lte": last}}
            page = [Message.from_bson(doc) for doc in db["messages"].find(query)]
            assert len(page) == 50
            assert all(m.to_bson() == db["messages"].find_one({"_id": m.id}) for m in page[:3])
            names = {ix["name"] for ix in db["messages"].list_indexes()}
            assert "one_post_per_client_id" in names
            again = preload.fill(mongo_url, db_name, sizes, log=lines.append)
            assert again["seconds"] == marker["seconds"]
            assert lines[-1].startswith("preload: already there")
        finally:
            client.drop_database(db_name)
