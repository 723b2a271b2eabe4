"""Bench accounts and rooms, written straight into MongoDB outside the measured part.

Registering 20,000 people through the form costs an argon2 hash each; a bench needs
none of that. One password is hashed once and shared, and each client gets a session
cookie signed with the TAC_SECRET_KEY the harness gave the stack, exactly as Quart
would sign it at sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from bson import ObjectId
from pymongo import MongoClient
from quart import Quart
from quart.sessions import SecureCookieSessionInterface

PASSWORD = "bench-password"
USERNAME = "bench{:06d}"


def session_cookies(
    secret_key: str, user_ids: list[str], mongo_url: str, db_name: str
) -> list[str]:
    """The `session` cookie value Quart would set for each user at sign-in, and the
    server-side session it names (tac.chat.sessions: the cookie holds a secret, MongoDB's
    `sessions` its SHA-256)."""
    app = Quart("bench")
    app.secret_key = secret_key
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    secrets_ = [secrets.token_urlsafe(32) for _ in user_ids]
    now = datetime.now(UTC)
    with MongoClient[dict[str, object]](mongo_url, tz_aware=True) as client:
        sessions = client[db_name]["sessions"]
        for start in range(0, len(user_ids), 5000):
            sessions.insert_many(
                [
                    {
                        "_id": hashlib.sha256(secret.encode()).hexdigest(),
                        "user": ObjectId(uid),
                        "created_at": now,
                        "last_seen_at": now,
                        "expires_at": now + timedelta(days=1),
                        "user_agent": "bench",
                        "address": "",
                    }
                    for uid, secret in zip(
                        user_ids[start : start + 5000], secrets_[start : start + 5000], strict=True
                    )
                ]
            )
    return [serializer.dumps({"sid": secret, "_permanent": True}) for secret in secrets_]


def ensure_users(mongo_url: str, db_name: str, count: int) -> list[str]:
    """Ids of `count` bench users (bench000000, ...), creating the missing ones."""
    with MongoClient[dict[str, object]](mongo_url, tz_aware=True) as client:
        users = client[db_name]["users"]
        found = {
            str(doc["username"]): str(doc["_id"])
            for doc in users.find({"username": {"$regex": "^bench\\d{6}$"}}, {"username": 1})
        }
        missing = [USERNAME.format(i) for i in range(count) if USERNAME.format(i) not in found]
        if missing:
            password_hash = PasswordHasher().hash(PASSWORD)
            now = datetime.now(UTC)
            for start in range(0, len(missing), 5000):
                docs: list[dict[str, object]] = [
                    {
                        "_id": ObjectId(),
                        "username": name,
                        "username_key": name,
                        "display_name": name,
                        "password_hash": password_hash,
                        "created_at": now,
                    }
                    for name in missing[start : start + 5000]
                ]
                users.insert_many(docs, ordered=False)
                found.update({str(d["username"]): str(d["_id"]) for d in docs})
        return [found[USERNAME.format(i)] for i in range(count)]


def create_room(mongo_url: str, db_name: str, slug: str, member_ids: list[str]) -> str:
    """A fresh room whose members are `member_ids` (the senders: posting needs membership).

    Everyone else opens the room's socket as a visitor, as the room page allows; so the
    members list pushed on presence changes stays short (see BENCHMARKS.md)."""
    now = datetime.now(UTC)
    with MongoClient[dict[str, object]](mongo_url, tz_aware=True) as client:
        db = client[db_name]
        room_id = ObjectId()
        db["rooms"].insert_one(
            {"_id": room_id, "slug": slug, "title": slug, "topic": "bench", "created_by": None,
             "created_at": now, "last_seq": 0}
        )  # fmt: skip
        if member_ids:
            db["memberships"].insert_many(
                [
                    {"user": ObjectId(u), "room": room_id, "last_read_seq": 0, "joined_at": now}
                    for u in member_ids
                ]
            )
        return str(room_id)
