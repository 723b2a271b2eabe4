"""History paging on the embedded server: a page of 50 in a room of 100,000 messages.

    python -m ops.bench.history [--messages 100000] [--pages 1000] [--page-size 50]

Starts its own embedded MongoDB-wire server (SecantusDB) in a temporary folder, or uses
TAC_MONGO_URL (a database named tac_bench_history, dropped at the end), inserts the room's
messages with insert_many (not timed), waits until the embedded server is idle again, then
times `history_before` (the query behind the room page and every history page) at random
points of the room, with the garbage collector set as `tac run` sets it
(TAC_GC_THRESHOLDS), and prints p50/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bson import ObjectId

from tac import db
from tac.chat.messages import history_before
from tac.embedded import EmbeddedMongo
from tac.models import Message, Room
from tac.settings import Settings

DB_NAME = "tac_bench_history"


async def fill(room: Room, count: int, batch: int = 10_000) -> float:
    """Insert `count` messages into `room`; returns the seconds it took."""
    assert room.id is not None
    author = ObjectId()
    start = datetime.now(UTC) - timedelta(seconds=count)
    began = time.perf_counter()
    collection = Message.get_pymongo_collection()
    for low in range(1, count + 1, batch):
        await collection.insert_many(
            [
                {
                    "room": room.id,
                    "seq": seq,
                    "author": author,
                    "author_name": "Bench",
                    "body": f"message {seq} " + "x" * 60,
                    "created_at": start + timedelta(seconds=seq),
                    "edited_at": None,
                    "deleted": False,
                }
                for seq in range(low, min(low + batch, count + 1))
            ],
            ordered=False,
        )
    await Room.get_pymongo_collection().update_one({"_id": room.id}, {"$set": {"last_seq": count}})
    room.last_seq = count
    return time.perf_counter() - began


async def wait_quiet(pid: int | None, limit: float, busy_share: float = 0.1) -> float:
    """Wait until the server (`pid`, when we started it) uses under `busy_share` of a core:
    the work its storage engine still does for 100,000 fresh inserts is not a page read's.
    At most `limit` seconds; returns how long it took."""
    from ops.bench.fanout import cpu_seconds

    began = time.monotonic()
    if pid is None:
        return 0.0
    last = cpu_seconds(pid)
    while time.monotonic() - began < limit:
        await asyncio.sleep(0.5)
        now = cpu_seconds(pid)
        if (now - last) / 0.5 < busy_share:
            break
        last = now
    return time.monotonic() - began


async def measure(
    url: str, count: int, pages: int, page_size: int, server_pid: int | None = None
) -> dict[str, float]:
    client = await db.connect(url, DB_NAME)
    try:
        await Message.get_pymongo_collection().drop()
        await Room.get_pymongo_collection().drop()
        await db.connect(url, DB_NAME)  # indexes again, after the drop
        room = await Room(slug="history-bench", title="History bench").insert()
        filled = await fill(room, count)
        settled = await wait_quiet(server_pid, 60.0)
        rng = random.Random(7)
        for _ in range(20):  # warm up
            await history_before(room, rng.randint(page_size + 1, count + 1), page_size)
        times: list[float] = []
        for i in range(pages):
            # The newest page (the room page's first load) and random older ones.
            before = count + 1 if i % 10 == 0 else rng.randint(page_size + 1, count + 1)
            began = time.perf_counter()
            page = await history_before(room, before, page_size)
            times.append((time.perf_counter() - began) * 1000)
            assert len(page) == page_size and page[-1].seq == before - 1
        times.sort()
        return {
            "insert_s": filled,
            "settle_s": settled,
            "p50_ms": statistics.median(times),
            "p99_ms": times[int(0.99 * len(times)) - 1],
            "max_ms": times[-1],
        }
    finally:
        await client.drop_database(DB_NAME)
        await db.close(client, 5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.bench.history", description=__doc__)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--pages", type=int, default=1000)
    p.add_argument("--page-size", type=int, default=50)
    args = p.parse_args(argv)
    settings = Settings()
    url = settings.mongo_url
    where = "TAC_MONGO_URL" if url else "embedded SecantusDB"
    gc.set_threshold(*settings.gc_thresholds)  # as `tac run` sets them
    with tempfile.TemporaryDirectory(prefix="tac-history-") as tmp:
        server = None if url else EmbeddedMongo(Path(tmp) / "mongo")
        try:
            url = url or server.start()  # type: ignore[union-attr]
            pid = server.process.pid if server and server.process else None
            result = asyncio.run(measure(url, args.messages, args.pages, args.page_size, pid))
        finally:
            if server is not None:
                server.stop()
    print(
        f"| history page of {args.page_size} | room of {args.messages:,} ({where}) "
        f"| {args.pages} pages | p50 {result['p50_ms']:.2f} ms | p99 {result['p99_ms']:.2f} ms "
        f"| max {result['max_ms']:.2f} ms | (insert_many of the room: {result['insert_s']:.1f} s, "
        f"then the server was busy {result['settle_s']:.1f} s more) |"
    )
    return 0 if result["p99_ms"] < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
