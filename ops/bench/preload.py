"""A realistic database for the benches (issue 11): users, rooms, memberships and messages,
written once straight into MongoDB and kept between runs.

    python -m ops.bench --preload [--preload-messages 1000000]     (fanout.py calls fill())

Users are the bench users (`bench000000`, ...: ops/bench/seed.py finds them), so the bench's
senders are people with rooms and history of their own. Rooms `room0000` ... : every user
is a member of the first one (a #general) and of `ROOMS_EACH` others picked at random;
messages are spread over the rooms by a Zipf-like weight (room i gets 1/(i+1) of the share,
so #general holds about an eighth of them and the quietest rooms a few hundred), each room's
numbered 1..n by `seq`, authored by its members, with the room's `last_seq` set to n.
Every document is shaped as the app writes it (messages by `Message.to_bson()`).

A marker document (`bench_preload`, `_id: "preload"`) is written last: a database that has
it with at least the counts asked for is not filled again. A fill that was interrupted
leaves no marker; the next one drops the half-filled collections and starts over.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from bson import ObjectId
from pymongo import MongoClient

from ops.bench.seed import PASSWORD, USERNAME
from tac.models import Membership, Room, User
from tac.models.message import Message, MessageCollection

MARKER = "bench_preload"
ROOM_SLUG = "room{:04d}"
ROOMS_EACH = 2
"""Rooms each user joins besides #general: memberships are users x (1 + ROOMS_EACH)."""
BATCH = 10_000
COLLECTIONS = ("users", "rooms", "memberships", "messages")
INDEXED = {"users": User, "rooms": Room, "memberships": Membership, "messages": MessageCollection}
"""The app's own index definitions, built after the inserts (the app's init_beanie finds
them there and builds nothing)."""


@dataclass(frozen=True)
class Sizes:
    users: int = 100_000
    rooms: int = 1_000
    messages: int = 1_000_000


def present(db: Any, sizes: Sizes) -> dict[str, Any] | None:
    """The marker of a finished fill at least as big as `sizes`, if there is one."""
    marker: dict[str, Any] | None = db[MARKER].find_one({"_id": "preload"})
    if marker is None:
        return None
    if any(marker.get(k, 0) < getattr(sizes, k) for k in ("users", "rooms", "messages")):
        return None
    return marker


def message_counts(sizes: Sizes) -> list[int]:
    """Messages per room: weight 1/(i+1), rounded so that they add up to sizes.messages."""
    weights = [1 / (i + 1) for i in range(sizes.rooms)]
    total = sum(weights)
    counts = [int(sizes.messages * w / total) for w in weights]
    counts[0] += sizes.messages - sum(counts)
    return counts


def insert(collection: Any, docs: list[dict[str, Any]]) -> None:
    for start in range(0, len(docs), BATCH):
        collection.insert_many(docs[start : start + BATCH], ordered=False)


def fill(mongo_url: str, db_name: str, sizes: Sizes, log: Any = print) -> dict[str, Any]:
    """Fill `db_name` unless a finished fill of at least `sizes` is there; returns its marker
    (with the seconds each part took)."""
    with MongoClient[dict[str, Any]](mongo_url, tz_aware=True) as client:
        db = client[db_name]
        if (marker := present(db, sizes)) is not None:
            log(f"preload: already there ({marker['seconds']['total']:.0f} s when made)")
            return marker
        for name in (*COLLECTIONS, MARKER):
            db[name].drop()  # the indexes too: SecantusDB inserts twice as fast without
        rng = random.Random(11)
        now = datetime.now(UTC).replace(microsecond=0)
        seconds: dict[str, float] = {}
        began = t = time.perf_counter()

        password_hash = PasswordHasher().hash(PASSWORD)
        user_ids = [ObjectId() for _ in range(sizes.users)]
        names = [USERNAME.format(i) for i in range(sizes.users)]
        insert(
            db["users"],
            [
                {"_id": uid, "username": name, "username_key": name, "display_name": name,
                 "password_hash": password_hash, "created_at": now - timedelta(days=400)}
                for uid, name in zip(user_ids, names, strict=True)
            ],
        )  # fmt: skip
        seconds["users"] = time.perf_counter() - t
        log(f"preload: {sizes.users:,} users in {seconds['users']:.1f} s")

        t = time.perf_counter()
        counts = message_counts(sizes)
        room_ids = [ObjectId() for _ in range(sizes.rooms)]
        members: list[list[int]] = [[] for _ in range(sizes.rooms)]
        members[0] = list(range(sizes.users))
        others = max(0, min(ROOMS_EACH, sizes.rooms - 1))
        for u in range(sizes.users):
            for r in rng.sample(range(1, sizes.rooms), others):
                members[r].append(u)
        start = now - timedelta(days=365)
        db["rooms"].insert_many(
            [
                {"_id": rid, "slug": ROOM_SLUG.format(i), "title": ROOM_SLUG.format(i),
                 "topic": "preloaded", "created_by": user_ids[0], "created_at": start,
                 "last_seq": counts[i], "last_seq_at": now if counts[i] else None}
                for i, rid in enumerate(room_ids)
            ],
            ordered=False,
        )  # fmt: skip
        insert(
            db["memberships"],
            [
                {"_id": ObjectId(), "user": user_ids[u], "room": rid, "last_read_seq": 0,
                 "joined_at": start}
                for rid, people in zip(room_ids, members, strict=True)
                for u in people
            ],
        )  # fmt: skip
        memberships = sum(map(len, members))
        seconds["rooms"] = time.perf_counter() - t
        log(
            f"preload: {sizes.rooms:,} rooms, {memberships:,} memberships "
            f"in {seconds['rooms']:.1f} s"
        )

        t = time.perf_counter()
        done = 0
        collection = db["messages"]
        batch: list[dict[str, Any]] = []
        for i, (rid, people, count) in enumerate(zip(room_ids, members, counts, strict=True)):
            step = timedelta(days=365) / max(count, 1)
            authors = people or [0]
            for seq in range(1, count + 1):
                u = authors[rng.randrange(len(authors))]
                batch.append(
                    Message(
                        room=rid,
                        seq=seq,
                        author=user_ids[u],
                        author_name=names[u],
                        body=f"message {seq} of {ROOM_SLUG.format(i)} " + "lorem ipsum " * 5,
                        created_at=start + step * seq,
                    ).to_bson()
                )
                if len(batch) == BATCH:
                    collection.insert_many(batch, ordered=False)
                    done += len(batch)
                    batch = []
                    if done % 100_000 == 0:
                        log(f"preload: {done:,} messages, {time.perf_counter() - t:.0f} s")
        if batch:
            collection.insert_many(batch, ordered=False)
        seconds["messages"] = time.perf_counter() - t
        log(f"preload: {sizes.messages:,} messages in {seconds['messages']:.1f} s")
        t = time.perf_counter()
        for name, document in INDEXED.items():
            db[name].create_indexes(document.Settings.indexes)
        seconds["indexes"] = time.perf_counter() - t
        log(f"preload: indexes built in {seconds['indexes']:.1f} s")
        seconds["total"] = time.perf_counter() - began
        marker = {
            "_id": "preload",
            "users": sizes.users,
            "rooms": sizes.rooms,
            "memberships": memberships,
            "messages": sizes.messages,
            "seconds": seconds,
            "finished_at": datetime.now(UTC),
        }
        db[MARKER].insert_one(marker)
        return marker


def main(argv: list[str] | None = None) -> int:
    """Fill the bench's database (var/bench by default) with only the embedded server up."""
    import argparse
    from pathlib import Path

    from tac.embedded import EmbeddedMongo
    from tac.settings import Settings

    p = argparse.ArgumentParser(prog="python -m ops.bench.preload", description=__doc__)
    p.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    p.add_argument("--users", type=int, default=Sizes.users)
    p.add_argument("--rooms", type=int, default=Sizes.rooms)
    p.add_argument("--messages", type=int, default=Sizes.messages)
    args = p.parse_args(argv)
    sizes = Sizes(args.users, args.rooms, args.messages)
    settings = Settings()
    if settings.mongo_url:
        fill(settings.mongo_url, settings.mongo_db, sizes)
        return 0
    stack_dir = args.var_dir.resolve() / "stack"
    stack_dir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedMongo(stack_dir / "mongo", log_file=stack_dir / "mongo-preload.log")
    url = server.start()
    try:
        fill(url, settings.mongo_db, sizes)
    finally:
        server.stop()
    print(f"preload: database {size_mb(stack_dir / 'mongo'):,.0f} MB on disk")
    return 0


def size_mb(path: Any) -> float:
    return float(sum(f.stat().st_size for f in path.rglob("*") if f.is_file())) / 2**20


if __name__ == "__main__":
    raise SystemExit(main())
