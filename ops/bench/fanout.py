"""`make bench`: N sockets in one room through nginx, S senders, one table.

    python -m ops.bench --n 500,1000,2000 --senders 10 --messages 30 --rate 10

For each N: the harness starts (once) the stack of ops/stack.py (2 instances behind nginx,
a Redis of its own, the embedded MongoDB-wire server unless TAC_MONGO_URL is set), seeds
the bench users straight into MongoDB, restarts the app instances (clean RSS), creates a
fresh room whose only members are the S senders, and then, measured:
  1. N clients (spread over several worker processes) open the room's socket at a paced
     connect rate, and the stack is left to settle (presence of the arrivals);
  2. the S senders post M messages each, R messages per second into the room in total;
     every client records each message's post -> receipt latency;
  3. when every client holds every message (or at the deadline), the app instances' CPU
     (utime + stime from /proc) and RSS are read again.
Nothing but loopback is used. Every process started is stopped, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, TypeVar

from ops.bench import preload
from ops.bench.client import bin_value, raise_fd_limit, worker_main
from ops.bench.pageweight import page_weight, summary
from ops.bench.seed import create_room, ensure_users, session_cookies
from ops.stack import Stack, port_is_free
from tac.settings import Settings

T = TypeVar("T", int, float)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- the processes being measured ---------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def open_sockets(instance_url: str) -> int:
    """The instance's own count of open WebSockets (its Prometheus gauge)."""
    with urllib.request.urlopen(f"{instance_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(r"^tac_open_sockets (\S+)$", text, re.M)
    return int(float(match.group(1))) if match else -1


class BenchStack(Stack):
    """The stack of ops/stack.py, with nginx allowed enough connections for the bench.

    Every proxied socket holds two descriptors (client side, upstream side), and here no
    process may hold more than 20,000 (the hard limit, which even root cannot raise in this
    VM): past about 9,000 sockets nginx gets 4 workers, the listening socket spread over
    them by the kernel (reuseport)."""

    sockets = 0

    def nginx_config(self) -> str:
        config = super().nginx_config()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
        workers = 1 if 2 * self.sockets + 1000 < nofile else 4
        connections = min(nofile - 500, max(2 * self.sockets // workers + 2000, 4096))
        config = re.sub(r"worker_processes \d+;", f"worker_processes {workers};", config)
        config = re.sub(r"worker_connections \d+;", f"worker_connections {connections};", config)
        if workers > 1:
            config = re.sub(r"(listen 127\.0\.0\.1:\d+ backlog=\d+);", r"\1 reuseport;", config)
        return config

    def start(self) -> BenchStack:
        # The previous run's sockets linger in TIME-WAIT on nginx's port for up to 60 s, and
        # Stack.start() tests the port with a plain bind (no SO_REUSEADDR): wait them out.
        deadline = time.time() + 75
        while not port_is_free(self.port) and time.time() < deadline:
            time.sleep(1)
        super().start()
        return self

    def pids(self, kind: str) -> list[int]:
        return [
            pid
            for p in sorted(self.var_dir.glob(f"{kind}*.pid"))
            if (pid := self._read_pid(p.stem)) is not None
        ]

    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds so far of the app instances, nginx (master and workers), Redis and
        MongoDB of this stack."""
        out: dict[str, float] = {}
        for kind in ("app", "nginx", "redis", "mongo"):
            pids = self.pids(kind)
            if kind == "nginx":
                pids = pids + [c for p in pids for c in children_of(p)]
            total = 0.0
            for pid in pids:
                with contextlib.suppress(OSError):
                    total += cpu_seconds(pid)
            out[kind] = total
        return out


def profile(pid: int, plan: Plan, phase: str, seconds: int) -> subprocess.Popen[bytes]:
    """py-spy (from the bench extra) on one instance for one phase of the run."""
    assert plan.profile is not None
    plan.profile.mkdir(parents=True, exist_ok=True)
    out = plan.profile / f"n{plan.n}-{phase}-pid{pid}.txt"  # collapsed stacks
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-o", str(out),
         "--duration", str(seconds), "--rate", "200", "--nonblocking", "--format", "raw"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


class NodeWorker:
    """ops/bench/client.mjs in its own process, driven like a Python worker's pipe."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            ["node", str(Path(__file__).with_name("client.mjs"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._write(config)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _write(self, data: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(data) + "\n")
        self.proc.stdin.flush()

    # the part of multiprocessing's Connection and Process that run_once uses
    def send(self, message: tuple[str, Any]) -> None:
        kind, payload = message
        self._write({"kind": kind, "start_at": payload})

    def poll(self, timeout: float) -> bool:
        try:
            self._next = self.lines.get(timeout=timeout)
        except queue.Empty:
            return False
        return True

    def recv(self) -> tuple[str, dict[str, Any]]:
        data: dict[str, Any] = json.loads(self._next)
        return data.pop("kind"), data

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        self.proc.terminate()


# -- one run -------------------------------------------------------------------------------
@dataclass
class Plan:
    n: int
    senders: int
    messages: int
    rate: float
    workers: int
    connect_rate: float
    deflate: bool
    drain_seconds: float
    settle_seconds: float
    profile: Path | None = None
    client: str = "python"
    elsewhere: float = 0.0
    """This share of the N clients (every one a member of the room) views another room:
    they get the busy room's unread badges, not its messages (issue 12's shape)."""
    rooms: int = 1
    """The N clients in this many rooms (client g in room g % rooms); S senders and R/s
    in each room then: R is the rate of all rooms together."""


@dataclass
class Row:
    room: str
    rooms: int
    n: int
    senders: int
    messages: int
    rate: float
    held: int
    connect_rate: float
    expected: int
    received: int
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_per_1k: float
    rss_instance_mb: list[float]
    rss_per_conn_kb: float
    cpu_split: dict[str, float]
    notes: list[str]


def percentile(histogram: dict[int, int], fraction: float) -> float:
    total = sum(histogram.values())
    if total == 0:
        return float("nan")
    rank = fraction * total
    seen = 0
    for b in sorted(histogram):
        seen += histogram[b]
        if seen >= rank:
            return bin_value(b) / 1000
    return float("nan")


def wait_quiet(stack: BenchStack, limit: float, busy_share: float = 0.15) -> float:
    """Wait until the app instances use under `busy_share` of a core (the arrivals' presence
    work is done), at most `limit` seconds; returns how long it took."""
    began = time.time()
    last = stack.cpu_by_kind()["app"]
    while time.time() - began < limit:
        time.sleep(0.5)
        now = stack.cpu_by_kind()["app"]
        if (now - last) / 0.5 < busy_share:
            break
        last = now
    return time.time() - began


def run_once(stack: BenchStack, plan: Plan, users: list[str], secret_key: str) -> Row:
    settings = Settings()
    notes: list[str] = []
    slug = f"bench-{plan.n}-{int(time.time())}"
    rooms = max(1, plan.rooms)
    slugs = [slug] if rooms == 1 else [f"{slug}-{r}" for r in range(rooms)]
    for r, room_slug in enumerate(slugs):  # room r: clients r, r + rooms, ...; the first S post
        senders = [users[r + j * rooms] for j in range(plan.senders) if r + j * rooms < plan.n]
        members = users[: plan.n] if plan.elsewhere else senders
        create_room(str(stack.mongo_url), settings.mongo_db, room_slug, members)
    # Every k-th client past the senders views another room (a room of its own: its page
    # socket still carries the busy room, of which it is a member, as badges).
    away = (
        {g for g in range(plan.senders, plan.n) if (g * plan.elsewhere) % 1 >= 1 - plan.elsewhere}
        if plan.elsewhere
        else set()
    )
    if away:
        create_room(str(stack.mongo_url), settings.mongo_db, f"{slug}-away", [])
    cookies = session_cookies(secret_key, users[: plan.n], str(stack.mongo_url), settings.mongo_db)

    for i in range(stack.instances):  # fresh instances: RSS and CPU of this run alone
        stack.stop_instance(i)
        stack.start_instance(i)
    time.sleep(1.0)
    app_pids = stack.pids("app")
    rss_idle = [rss_kb(p) for p in app_pids]

    ctx = mp.get_context("spawn")
    pipes: list[Pipe] = []
    procs: list[Any] = []
    per_worker_rate = plan.connect_rate / plan.workers
    for w in range(plan.workers):
        mine = list(range(w, plan.n, plan.workers))
        config = {
            "ws_url": f"ws://127.0.0.1:{stack.port}/rooms/{slug}/ws",
            "ws_urls": [
                f"ws://127.0.0.1:{stack.port}/rooms/"
                + (f"{slug}-away" if g in away else slugs[g % rooms])
                + "/ws"
                for g in mine
            ]
            if rooms > 1 or away
            else None,
            "elsewhere": [local for local, g in enumerate(mine) if g in away],
            "origin": stack.url,
            "cookies": [cookies[g] for g in mine],
            "senders": {
                local: g // rooms for local, g in enumerate(mine) if g // rooms < plan.senders
            },
            "sender_rooms": {local: g % rooms for local, g in enumerate(mine)},
            "rooms": rooms,
            "sender_count": plan.senders,
            "messages_per_sender": plan.messages,
            "rate": plan.rate / rooms,
            "connect_rate": per_worker_rate,
            "deflate": plan.deflate,
            "drain_seconds": plan.drain_seconds,
        }
        config["impl"] = "raw" if plan.client == "python" else "websockets"
        if plan.client == "node":
            assert rooms == 1, "the node client knows one room"
            node = NodeWorker(config)
            pipes.append(node)  # type: ignore[arg-type]
            procs.append(node)
            continue
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(config, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    try:
        return _measure(stack, plan, slug, pipes, app_pids, rss_idle, notes)
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError, BrokenPipeError):
                pipe.send(("close", None))
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def _receive(pipe: Pipe, kind: str, timeout: float) -> dict[str, Any]:
    if not pipe.poll(timeout):
        raise TimeoutError(f"a bench worker sent no {kind!r} within {timeout:.0f} s")
    got_kind, payload = pipe.recv()
    if got_kind != kind:
        raise RuntimeError(f"a bench worker sent {got_kind!r}, expected {kind!r}")
    result: dict[str, Any] = payload
    return result


def _measure(
    stack: BenchStack,
    plan: Plan,
    slug: str,
    pipes: list[Pipe],
    app_pids: list[int],
    rss_idle: list[int],
    notes: list[str],
) -> Row:
    connect_limit = 3 * plan.n / plan.connect_rate + 90
    cpu_start = stack.cpu_by_kind()
    seconds = int(plan.n / plan.connect_rate) + 2
    profilers = [profile(p, plan, "connect", seconds) for p in app_pids] if plan.profile else []
    connected = [_receive(p, "connected", connect_limit) for p in pipes]
    cpu_connected = stack.cpu_by_kind()
    notes.append(
        "connect-phase CPU s "
        + "/".join(f"{k} {cpu_connected[k] - cpu_start[k]:.1f}" for k in cpu_start)
    )
    clients = sum(c["connected"] for c in connected)
    connect_seconds = max(c["seconds"] for c in connected)
    failures: dict[str, int] = {}
    for c in connected:
        for k, v in c["failures"].items():
            failures[k] = failures.get(k, 0) + v
    if failures:
        notes.append(f"connect failures {failures}")
    settled = wait_quiet(stack, plan.settle_seconds)
    notes.append(f"settled {settled:.1f}s")
    per_instance = [open_sockets(u) for u in stack.instance_urls]
    rss_loaded = [rss_kb(p) for p in app_pids]

    rooms = max(1, plan.rooms)
    seconds = int(plan.senders * plan.messages * rooms / plan.rate) + 1
    profilers += [profile(pid, plan, "post", seconds) for pid in app_pids] if plan.profile else []
    cpu_before = stack.cpu_by_kind()
    start_at = time.time() + 0.5
    for pipe in pipes:
        pipe.send(("go", start_at))
    total_messages = plan.senders * plan.messages * rooms
    deadline = total_messages / plan.rate + plan.drain_seconds + 30
    done = [_receive(p, "done", deadline) for p in pipes]
    cpu_after = stack.cpu_by_kind()
    rss_after = [rss_kb(p) for p in app_pids]
    for profiler in profilers:
        profiler.wait(60)
    if profilers:
        notes.append(f"py-spy profiles in {plan.profile}")

    histogram: dict[int, int] = {}
    for d in done:
        for b, count in d["histogram"].items():
            histogram[int(b)] = histogram.get(int(b), 0) + count
    received = sum(d["received"] for d in done)
    posted = sum(d["posted"] for d in done)
    away_frames = [f for d in done for f in d["elsewhere"]]
    viewers = clients - len(away_frames)
    expected = posted * viewers // rooms  # every viewer gets its own room's posts
    if away_frames:
        notes.append(
            f"{len(away_frames)} members viewing another room: {sum(away_frames):,} frames "
            f"(badges), {sum(away_frames) / len(away_frames):.1f} each"
        )
    finished = max(d["finished"] for d in done)
    held = sum(d["held"] for d in done)
    app_cpu = cpu_after["app"] - cpu_before["app"]
    split = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
    split["clients"] = sum(d["cpu_seconds"] for d in done)
    split["wall"] = finished - start_at
    for key in ("duplicates", "post_errors"):
        if (count := sum(d[key] for d in done)) > 0:
            notes.append(f"{key} {count}")
    closed: dict[str, int] = {}
    for d in done:
        for code, count in d["closed"].items():
            closed[code] = closed.get(code, 0) + count
    if closed:
        notes.append(f"closed by server {closed}")
    errors = sorted({e for d in done for e in d["errors_seen"]})
    if errors:
        notes.append(f"post errors seen {errors[:3]}")
    missing = sorted({i for d in done for i in d["missing"]})
    if missing:
        notes.append(f"messages some client lacks (first 20) {missing[:20]}")
        notes.append(f"lacking clients {[x for d in done for x in d['lacking']][:3]}")
    if posted != total_messages:
        notes.append(f"posted {posted} of {total_messages}")
    notes.append(f"sockets per instance {per_instance}")
    if frames := sum(d["message_frames"] for d in done):
        notes.append(f"messages per frame {received / frames:.2f}")
    conns = max(1, sum(per_instance))
    if posted:
        notes.append(
            "per message: app CPU {:.2f} ms ({:.1f} µs per socket), Redis CPU {:.0f} µs".format(
                app_cpu / posted * 1000,
                app_cpu / posted / conns * 1e6,
                split["redis"] / posted * 1e6,
            )
        )
    max_ms = max(d["max_micros"] for d in done) / 1000
    return Row(
        room=slug if rooms == 1 else f"{slug}-0",
        rooms=rooms,
        n=plan.n,
        senders=plan.senders,
        messages=plan.messages,
        rate=plan.rate,
        held=held,
        connect_rate=clients / connect_seconds if connect_seconds else 0.0,
        expected=expected,
        received=received,
        per_second=received / max(1e-9, finished - start_at),
        p50_ms=min(percentile(histogram, 0.50), max_ms),
        p99_ms=min(percentile(histogram, 0.99), max_ms),
        max_ms=max_ms,
        cpu_per_1k=app_cpu / received * 1000 if received else float("nan"),
        rss_instance_mb=[r / 1024 for r in rss_after],
        rss_per_conn_kb=(sum(rss_loaded) - sum(rss_idle)) / conns,
        cpu_split=split,
        notes=notes,
    )


# -- the table ------------------------------------------------------------------------------
HEADER = (
    "| N | S x M at R/s | held | connect/s | expected | received | deliveries/s "
    "| p50 ms | p99 ms | max ms "
    "| app CPU s/1k deliveries (µs each) | RSS per instance MB | RSS per conn KB "
    "| CPU s app/nginx/redis/mongo/clients over wall s |"
)


def format_row(row: Row) -> str:
    s = row.cpu_split
    rss = " / ".join(f"{r:.0f}" for r in row.rss_instance_mb)
    return (
        f"| {row.n:,} | {row.senders} x {row.messages} at {row.rate:g}"
        f"{f' in {row.rooms:,} rooms' if row.rooms > 1 else ''} | {row.held:,} "
        f"| {row.connect_rate:,.0f} | {row.expected:,} "
        f"| {row.received:,} | {row.per_second:,.0f} | {row.p50_ms:.1f} | {row.p99_ms:.1f} "
        f"| {row.max_ms:.1f} | {row.cpu_per_1k:.4f} ({row.cpu_per_1k * 1000:.1f}) | {rss} "
        f"| {row.rss_per_conn_kb:.1f} | {s['app']:.1f}/{s['nginx']:.1f}/{s['redis']:.1f}"
        f"/{s['mongo']:.1f}/{s['clients']:.1f} over {s['wall']:.1f} |"
    )


def print_table(rows: list[Row], plan_text: str) -> None:
    print()
    print(plan_text)
    print()
    print(HEADER)
    print("|" + " --- |" * (HEADER.count("|") - 1))
    for row in rows:
        print(format_row(row))
    print()
    for row in rows:
        print(f"N={row.n:,}: " + "; ".join(row.notes))


CLIENTS = {
    "python": "Python (uvloop, minimal RFC 6455 protocol of ops/bench/rawws.py)",
    "websockets": "Python (asyncio + uvloop, websockets library)",
    "node": "Node.js (ws)",
}


# -- main -----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ops.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="2000", help="clients; a comma list runs each in turn")
    p.add_argument("--senders", "-s", type=int, default=10, help="S: clients that post")
    p.add_argument(
        "--messages", "-m", default="30", help="M: messages per sender (one, or one per N)"
    )
    p.add_argument(
        "--rate", "-r", default="10", help="R: messages/s into the room (one, or one per N)"
    )
    p.add_argument(
        "--rooms",
        type=int,
        default=1,
        help="spread the N clients over this many rooms, S senders each; R is all rooms' rate",
    )
    p.add_argument(
        "--elsewhere",
        type=float,
        default=0.0,
        help="share of the clients (all made members) that view another room: badges only",
    )
    p.add_argument("--workers", type=int, default=2, help="client processes")
    p.add_argument(
        "--client",
        choices=["python", "websockets", "node"],
        default="python",
        help="load client: "
        "python (ops/bench/rawws.py on uvloop), websockets (the library), node (ws)",
    )
    p.add_argument("--connect-rate", type=float, default=500.0, help="connections opened per s")
    p.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    p.add_argument("--drain", type=float, default=15.0, help="s to wait after the last post")
    p.add_argument("--settle", type=float, default=60.0, help="most s to wait after connecting")
    p.add_argument("--profile", type=Path, help="py-spy each instance; flame graphs here")
    p.add_argument("--instances", type=int, default=2)
    p.add_argument(
        "--server", choices=["hypercorn", "uvicorn"], default="hypercorn", help="TAC_SERVER"
    )
    p.add_argument("--port", type=int, default=8080, help="nginx's port")
    p.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    p.add_argument("--fresh", action="store_true", help="delete var-dir first (new database)")
    p.add_argument(
        "--preload",
        action="store_true",
        help="fill the database first with 100,000 users, 1,000 rooms and "
        "--preload-messages messages (ops/bench/preload.py; kept in var-dir, made once)",
    )
    p.add_argument("--preload-messages", type=int, default=preload.Sizes.messages)
    return p.parse_args(argv)


def per_size(text: str, sizes: list[int], kind: type[T]) -> list[T]:
    """`10` for every N, or `10,4,2` one per N."""
    values = [kind(x) for x in text.split(",") if x.strip()]
    if len(values) == 1:
        return values * len(sizes)
    if len(values) != len(sizes):
        raise SystemExit(f"give one value or one per N ({len(sizes)}), not {text!r}")
    return values


def bench_stack(
    var_dir: Path, instances: int, port: int, fresh: bool, sockets: int, **settings: str
) -> tuple[BenchStack, str]:
    """The stack a bench runs against (not started), and its TAC_SECRET_KEY; `fresh`
    empties var_dir first (a new database)."""
    if fresh and var_dir.exists():
        shutil.rmtree(var_dir)
    secret_key = os.environ.get("TAC_SECRET_KEY") or "bench-" + os.urandom(16).hex()
    stack = BenchStack(
        var_dir / "stack",
        instances,
        port,
        own_redis=True,
        settings={
            "TAC_SECRET_KEY": secret_key,
            "TAC_REDIS_PREFIX": "bench",
            # A bench sender posts far faster than a person; the limit is not under test.
            "TAC_RATE_LIMIT_MESSAGES": "1000000",
            **settings,
        },
    )
    BenchStack.sockets = sockets
    return stack, secret_key


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on SIGTERM too
    sizes = [int(x.replace("_", "")) for x in args.n.split(",") if x.strip()]
    rates = per_size(args.rate, sizes, float)
    counts = per_size(args.messages, sizes, int)
    biggest = max(sizes)
    raise_fd_limit(max(65536, 3 * biggest + 4096))  # inherited by the stack's processes
    stack, secret_key = bench_stack(
        args.var_dir, args.instances, args.port, args.fresh, biggest, TAC_SERVER=args.server
    )
    if args.client == "node" and not (Path(__file__).parent / "node_modules" / "ws").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"],
            cwd=Path(__file__).parent,
            check=True,
        )
    rows: list[Row] = []
    weight = ""
    offers_no_deflate = args.no_deflate or args.client == "python"
    plan_text = (
        (
            "S senders x M messages each at R messages/s in total into one room; "
            if args.rooms == 1
            else f"N clients in {args.rooms:,} rooms, S senders x M messages in each, "
            f"R messages/s in total spread evenly over the rooms; "
        )
        + f"{args.workers} {CLIENTS[args.client]} client processes, "
        f"permessage-deflate {'not offered' if offers_no_deflate else 'offered'}; "
        f"{args.instances} instances ({args.server}) behind nginx on 127.0.0.1:{args.port}"
    )
    try:
        stack.start()
        if args.preload:
            preload.fill(
                str(stack.mongo_url),
                Settings().mongo_db,
                preload.Sizes(messages=args.preload_messages),
                log=lambda line: print(line, file=sys.stderr),
            )
        t = time.time()
        users = ensure_users(str(stack.mongo_url), Settings().mongo_db, biggest)
        print(f"bench: {len(users):,} users ready in {time.time() - t:.1f}s", file=sys.stderr)
        for n, rate, count in zip(sizes, rates, counts, strict=True):
            plan = Plan(
                n=n,
                senders=min(args.senders, n),
                messages=count,
                rate=rate,
                workers=args.workers,
                connect_rate=args.connect_rate,
                deflate=not args.no_deflate,
                drain_seconds=args.drain,
                settle_seconds=args.settle,
                profile=args.profile,
                client=args.client,
                rooms=args.rooms,
                elsewhere=args.elsewhere,
            )
            print(f"bench: N={n:,} ...", file=sys.stderr)
            row = run_once(stack, plan, users, secret_key)
            print("bench: " + format_row(row), file=sys.stderr)
            rows.append(row)
            if not weight:  # a room with a full first page of messages
                [cookie] = session_cookies(
                    secret_key, users[:1], str(stack.mongo_url), Settings().mongo_db
                )
                weight = summary(page_weight(f"{stack.url}/rooms/{row.room}", cookie))
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
    finally:
        stack.stop()
        if rows:
            print_table(rows, plan_text)
        if weight:
            print(weight)
    return 0 if rows and all(r.received == r.expected for r in rows) else 1
