"""`make bench-posts`: posting throughput and send-to-stored latency (issue 11, item 2).

    python -m ops.bench.posts --rate 40 --seconds 30          # fixed offered rate
    python -m ops.bench.posts --rate 0 --seconds 20           # as fast as acks come back

A room of M members (100), every one a sender on its own socket through nginx. With
`--rate R` the senders post R messages/s in total, evenly spaced (open loop); with
`--rate 0` each sender posts its next message as soon as the acknowledgment of the last one
is back (closed loop: the maximum the stack sustains with M senders). Measured:
  * posts/s stored: acknowledged posts over the send phase (the acknowledgment,
    `<p id="composer-error" ... data-client-id="X" data-seq-acked="N">`, is sent once the
    message is stored and published), and send-to-stored latency: send -> acknowledgment;
  * posts/s delivered: every member receives every post (counted per member and sender:
    one sender's posts arrive in the order sent), send -> receipt latency;
  * CPU seconds of the app instances, SecantusDB, Redis and nginx over the send phase
    (/proc/<pid>/stat), and the database's share of the app's.
The stack is ops/stack.py's (as `make bench`), in the same var dir, so `--preload` (see
ops/bench/preload.py) fills the same kept database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import re
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import uvloop
from pymongo import MongoClient

from ops.bench import preload
from ops.bench.client import bin_value, latency_bin, raise_fd_limit
from ops.bench.fanout import BenchStack, bench_stack
from ops.bench.rawws import RawWebSocket, raw_connect
from ops.bench.seed import create_room, ensure_users, session_cookies
from tac.settings import Settings

ACK = re.compile(r'data-client-id="c(\d+)-(\d+)" data-seq-acked="\d+"')
REFUSED = re.compile(r'id="composer-error"[^>]*data-client-id="c\d+-\d+"(?! data-seq)[^>]*>([^<]*)')
BODY = re.compile(r'<p class="body"[^>]*>p (\d+)-(\d+) (\d+)</p>')


# -- one client process ----------------------------------------------------------------------
@dataclass
class Tally:
    posted: int = 0
    acked: int = 0
    refused: int = 0
    errors: set[str] = field(default_factory=set)
    ack_hist: dict[int, int] = field(default_factory=dict)
    got_hist: dict[int, int] = field(default_factory=dict)
    received: int = 0
    duplicates: int = 0
    closed: int = 0
    last_ack: float = 0.0
    last_receipt: float = 0.0


class Member:
    """One member's socket: it posts as sender `number` and receives everyone's posts."""

    def __init__(self, number: int, senders: int, tally: Tally) -> None:
        self.number = number
        self.tally = tally
        self.sent: dict[int, int] = {}
        """k -> send time (ns) of this member's posts not yet acknowledged."""
        self.acked = asyncio.Event()
        self.newest = [0] * senders
        """Per sender, the newest k received: a sender's posts arrive in the order sent."""
        self.ws: RawWebSocket | None = None

    def take(self, frame: str) -> None:
        now = time.time_ns()
        tally = self.tally
        if "composer-error" in frame:
            for match in ACK.finditer(frame):
                k = int(match.group(2))
                sent = self.sent.pop(k, None)
                if sent is not None:
                    tally.acked += 1
                    b = latency_bin((now - sent) // 1000)
                    tally.ack_hist[b] = tally.ack_hist.get(b, 0) + 1
                    tally.last_ack = now / 1e9
            for match in REFUSED.finditer(frame):
                tally.refused += 1
                tally.errors.add(match.group(1)[:80])
            self.acked.set()
        if 'class="msg"' not in frame:
            return
        newest = self.newest
        hist = tally.got_hist
        for match in BODY.finditer(frame):
            sender, k = int(match.group(1)), int(match.group(2))
            if k <= newest[sender]:
                tally.duplicates += 1
                continue
            newest[sender] = k
            tally.received += 1
            b = latency_bin((now - int(match.group(3))) // 1000)
            hist[b] = hist.get(b, 0) + 1
        tally.last_receipt = now / 1e9

    async def post(self, k: int) -> None:
        assert self.ws is not None
        self.acked.clear()
        now = time.time_ns()
        self.sent[k] = now
        self.tally.posted += 1
        n = self.number
        await self.ws.send(f'{{"body": "p {n}-{k} {now}", "client_id": "c{n}-{k}"}}')


async def closed_loop(member: Member, until: float) -> None:
    """Post, wait for the acknowledgment, post again, until `until`."""
    k = 0
    while time.time() < until and member.ws is not None and member.ws.close_code is None:
        k += 1
        await member.post(k)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(member.acked.wait(), 10)


async def open_loop(member: Member, senders: int, rate: float, start: float, until: float) -> None:
    """Post at this sender's times: its k-th post goes at start + (k * senders + number) / rate."""
    k = 0
    while True:
        at = start + (k * senders + member.number) / rate
        if at >= until or member.ws is None or member.ws.close_code is not None:
            return
        if (delay := at - time.time()) > 0:
            await asyncio.sleep(delay)
        k += 1
        await member.post(k)


async def run_worker(config: dict[str, Any], pipe: Pipe) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally()
    members = [Member(n, config["senders"], tally) for n in config["numbers"]]
    for member, cookie in zip(members, config["cookies"], strict=True):
        member.ws = await raw_connect(config["ws_url"], config["origin"], cookie, member.take)
        await member.ws.send('{"hello": true, "last_seq": 0}')
    pipe.send(("connected", len(members)))
    _, (start, seconds, rate) = await loop.run_in_executor(None, pipe.recv)
    until = start + seconds
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(max(0.0, start - time.time()))
    if rate > 0:
        senders = config["senders"]
        await asyncio.gather(*(open_loop(m, senders, rate, start, until) for m in members))
    else:
        await asyncio.gather(*(closed_loop(m, until) for m in members))
    # Drain: until every post is acknowledged and nothing arrived for a second (or 20 s).
    deadline = time.time() + 20
    while time.time() < deadline:
        await asyncio.sleep(0.2)
        if all(not m.sent for m in members) and time.time() - tally.last_receipt > 1.0:
            break
    after = resource.getrusage(resource.RUSAGE_SELF)
    tally.closed = sum(1 for m in members if m.ws is None or m.ws.close_code is not None)
    result = dict(tally.__dict__)
    result["errors"] = sorted(tally.errors)[:5]
    result["unacked"] = sum(len(m.sent) for m in members)
    result["cpu"] = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    pipe.send(("done", result))
    await loop.run_in_executor(None, pipe.recv)
    await asyncio.gather(*(m.ws.close() for m in members if m.ws), return_exceptions=True)


def worker_main(config: dict[str, Any], pipe: Pipe) -> None:
    raise_fd_limit(len(config["cookies"]) + 1024)
    uvloop.run(run_worker(config, pipe))


# -- the orchestrator ------------------------------------------------------------------------
def percentile(hist: dict[int, int], fraction: float) -> float:
    total = sum(hist.values())
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= fraction * total:
            return bin_value(b) / 1000
    return float("nan")


def merge(hists: list[dict[int, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for hist in hists:
        for b, count in hist.items():
            out[int(b)] = out.get(int(b), 0) + count
    return out


def run(stack: BenchStack, args: argparse.Namespace, users: list[str], secret: str) -> str:
    settings = Settings()
    slug = f"posts-{args.members}-{int(time.time())}"
    mongo_url, db_name = str(stack.mongo_url), settings.mongo_db
    create_room(mongo_url, db_name, slug, users[: args.members])
    cookies = session_cookies(secret, users[: args.members], mongo_url, db_name)
    ctx = mp.get_context("spawn")
    pipes: list[Pipe] = []
    procs: list[Any] = []
    for w in range(args.workers):
        numbers = list(range(w, args.members, args.workers))
        config = {
            "ws_url": f"ws://127.0.0.1:{stack.port}/rooms/{slug}/ws",
            "origin": stack.url,
            "cookies": [cookies[n] for n in numbers],
            "numbers": numbers,
            "senders": args.members,
        }
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(config, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    try:
        for pipe in pipes:
            if not pipe.poll(120):
                raise TimeoutError("a client process did not connect within 120 s")
            pipe.recv()
        time.sleep(2.0)  # presence of the arrivals
        cpu_before = stack.cpu_by_kind()
        start = time.time() + 0.5
        for pipe in pipes:
            pipe.send(("go", (start, args.seconds, args.rate)))
        done = []
        for pipe in pipes:
            if not pipe.poll(args.seconds + 60):
                raise TimeoutError("a client process did not finish")
            done.append(pipe.recv()[1])
        cpu = {k: v - cpu_before[k] for k, v in stack.cpu_by_kind().items()}
        for pipe in pipes:
            pipe.send(("close", None))
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    with MongoClient[dict[str, Any]](mongo_url) as client:
        room = client[db_name]["rooms"].find_one({"slug": slug})
        assert room is not None
        stored = client[db_name]["messages"].count_documents({"room": room["_id"]})
    acked = sum(d["acked"] for d in done)
    posted = sum(d["posted"] for d in done)
    received = sum(d["received"] for d in done)
    last_ack = max(d["last_ack"] for d in done)
    last_receipt = max(d["last_receipt"] for d in done)
    ack_hist = merge([d["ack_hist"] for d in done])
    got_hist = merge([d["got_hist"] for d in done])
    mongo_share = cpu["mongo"] / cpu["app"] if cpu["app"] else float("nan")
    notes = []
    for key in ("refused", "duplicates", "closed", "unacked"):
        if (count := sum(d[key] for d in done)) > 0:
            notes.append(f"{key} {count}")
    if errors := sorted({e for d in done for e in d["errors"]}):
        notes.append(f"errors {errors[:3]}")
    offered = f"{args.rate:g}/s" if args.rate > 0 else "max (closed loop)"
    return (
        f"| {offered} | {args.members} | {posted:,} | {acked:,} | {stored:,} "
        f"| {acked / max(1e-9, last_ack - start):,.0f} "
        f"| {percentile(ack_hist, 0.5):.1f} | {percentile(ack_hist, 0.99):.1f} "
        f"| {received:,} of {acked * args.members:,} "
        f"| {received / args.members / max(1e-9, last_receipt - start):,.0f} "
        f"| {percentile(got_hist, 0.5):.1f} | {percentile(got_hist, 0.99):.1f} "
        f"| {cpu['app']:.1f}/{cpu['mongo']:.1f}/{cpu['redis']:.1f}/{cpu['nginx']:.1f}"
        f"/{sum(d['cpu'] for d in done):.1f} over {last_receipt - start:.1f} "
        f"| {100 * mongo_share:.0f}% | {'; '.join(notes)} |"
    )


HEADER = (
    "| offered | members = senders | posted | stored (acked) | in the room | posts/s stored "
    "| send-to-stored p50 ms | p99 ms | delivered | posts/s delivered to all "
    "| send-to-receipt p50 ms | p99 ms | CPU s app/mongo/redis/nginx/clients over wall s "
    "| mongo CPU / app CPU | notes |"
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.bench.posts", description=__doc__)
    p.add_argument("--rate", default="40", help="posts/s offered, 0 = closed loop; a comma list")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each send phase")
    p.add_argument("--members", type=int, default=100, help="members of the room, all senders")
    p.add_argument("--workers", type=int, default=2, help="client processes")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--port", type=int, default=8080, help="nginx's port")
    p.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    p.add_argument("--fresh", action="store_true", help="delete var-dir first (new database)")
    p.add_argument("--preload", action="store_true", help="fill the database first (kept)")
    p.add_argument("--preload-messages", type=int, default=preload.Sizes.messages)
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_fd_limit(8192)
    stack, secret = bench_stack(args.var_dir, args.instances, args.port, args.fresh, args.members)
    rows: list[str] = []
    try:
        stack.start()
        mongo_url, db_name = str(stack.mongo_url), Settings().mongo_db
        if args.preload:
            sizes = preload.Sizes(messages=args.preload_messages)
            preload.fill(mongo_url, db_name, sizes, log=lambda s: print(s, file=sys.stderr))
        users = ensure_users(mongo_url, db_name, args.members)
        for rate in (float(r) for r in args.rate.split(",") if r.strip()):
            args.rate = rate
            print(f"posts: rate {rate:g} ...", file=sys.stderr)
            row = run(stack, args, users, secret)
            print("posts: " + row, file=sys.stderr)
            rows.append(row)
    except KeyboardInterrupt:
        print("posts: interrupted", file=sys.stderr)
    finally:
        stack.stop()
    print(
        f"\n{args.instances} instance(s) behind nginx, {args.workers} client processes, "
        f"send phases of {args.seconds:g} s, database "
        f"{'preloaded' if args.preload else 'as found in ' + str(args.var_dir)}\n"
    )
    print(HEADER)
    print("|" + " --- |" * (HEADER.count("|") - 1))
    for row in rows:
        print(row)
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
