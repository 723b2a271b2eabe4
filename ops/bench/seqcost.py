"""What taking a room's seq costs on the embedded server, by the number of rooms.

    python -m ops.bench.seqcost [--rooms 10,1000] [--calls 50]

An embedded server (SecantusDB) in a temporary folder, a `rooms` collection of R rooms, and
the mean time of: a find by `_id`, `update_one` by `_id` with `$inc`, and
`find_one_and_update` by `_id` with `$inc` (how a post took its seq before stores/seq.py). On
SecantusDB 0.7.0b3 the last scans the collection (BENCHMARKS.md, round two).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, MongoClient, ReturnDocument

from tac.embedded import EmbeddedMongo


def mean_ms(call: Callable[[], Any], calls: int) -> float:
    call()
    began = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - began) / calls * 1000


def measure(url: str, rooms: int, calls: int) -> str:
    with MongoClient[dict[str, Any]](url) as client:
        collection = client["seqcost"][f"rooms{rooms}"]
        collection.create_index([("slug", ASCENDING)], unique=True)
        ids = [ObjectId() for _ in range(rooms)]
        collection.insert_many(
            [{"_id": i, "slug": f"r{k}", "last_seq": 0} for k, i in enumerate(ids)]
        )
        room = {"_id": ids[rooms // 2]}
        inc = {"$inc": {"last_seq": 1}}
        find = mean_ms(lambda: collection.find_one(room), calls)
        update = mean_ms(lambda: collection.update_one(room, inc), calls)
        take = mean_ms(
            lambda: collection.find_one_and_update(
                room, inc, projection={"last_seq": True}, return_document=ReturnDocument.AFTER
            ),
            calls,
        )
    return f"| {rooms:,} | {find:.2f} | {update:.2f} | {take:.2f} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.bench.seqcost", description=__doc__)
    p.add_argument("--rooms", default="10,1000")
    p.add_argument("--calls", type=int, default=50)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        server = EmbeddedMongo(Path(home) / "data", log_file=Path(home) / "log")
        url = server.start()
        try:
            print("| rooms | find_one ms | update_one $inc ms | find_one_and_update $inc ms |")
            print("| --- | --- | --- | --- |")
            for rooms in (int(r) for r in args.rooms.split(",")):
                print(measure(url, rooms, args.calls))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
