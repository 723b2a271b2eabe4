"""Tac as one chat across real Hypercorn instances, the Redis bus and nginx (ops/stack.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.stack import Stack
from tests.conftest import Person, attached, hello, receive_until
from tests.stack.conftest import (
    Listener,
    join,
    make_room,
    need_programs,
    seqs_in,
    stored_seqs,
    wait_until_all_hold,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.stack

People = Callable[[str], Awaitable[Person]]


async def test_post_on_one_instance_reaches_the_room_on_the_other_and_no_other_room(
    stack: Stack, people: People
) -> None:
    a_url, b_url = stack.instance_urls
    alice = await people(a_url)
    bob = await people(b_url)
    carol = await people(b_url)
    slug = await make_room(alice, "Across instances")
    await join(bob, slug)
    elsewhere = await make_room(carol, "Elsewhere")
    async with alice.connect(slug) as a, bob.connect(slug) as b, carol.connect(elsewhere) as c:
        for ws in (a, b, c):
            await hello(ws, 0)
        # The first message proves both sockets are attached (it may come by catch-up);
        # the second can only reach B through the Redis bus.
        for seq, body in [(1, "first from A"), (2, "second from A")]:
            await a.send(f'{{"body": "{body}"}}')
            for ws in (a, b):
                frames = await receive_until(ws, lambda text, body=body: body in text)
                assert seqs_in("".join(frames)) == [seq]
        await nothing_came_before_a_marker(c, "second from A")


async def nothing_came_before_a_marker(ws: Any, other: str) -> None:
    """The socket, alone in a new room, posts a marker there: had the other room's message
    (already delivered to its own sockets) been sent to this one, it would come first."""
    await ws.send('{"body": "marker in my room"}')
    frames = await receive_until(ws, lambda text: "marker in my room" in text)
    assert seqs_in("".join(frames)) == [1]
    assert other not in "".join(frames)


async def test_sockets_joining_a_room_at_the_same_moment_all_get_live_messages(
    stack: Stack, people: People
) -> None:
    """The first sockets of a room on an instance subscribe it on the bus concurrently;
    each must end up among the room's listeners."""
    a_url, b_url = stack.instance_urls
    alice = await people(a_url)
    slug = await make_room(alice, "Joined at once")
    readers = [await people(b_url) for _ in range(4)]
    for reader in readers:
        await join(reader, slug)
    async with contextlib.AsyncExitStack() as sockets:
        opened = await asyncio.gather(
            *(sockets.enter_async_context(r.connect(slug)) for r in readers)
        )
        await asyncio.gather(*(hello(ws, 0) for ws in opened))
        # Every socket is attached to the room before the post (it then comes live).
        await asyncio.gather(*(attached(ws) for ws in opened))
        async with alice.connect(slug) as a:
            await hello(a, 0)
            got: list[list[str]] = [[] for _ in opened]
            # The second message is a marker: a duplicate of the first would come before it.
            for body in ("to everyone at once", "marker after it"):
                await a.send(f'{{"body": "{body}"}}')
                arrived = await asyncio.gather(
                    *(receive_until(ws, lambda text, body=body: body in text) for ws in opened)
                )
                for frames, more in zip(got, arrived, strict=True):
                    frames += more
    assert [seqs_in("".join(frames)) for frames in got] == [[1, 2]] * len(readers)


async def upstreams_of(
    stack: Stack, pattern: str, expected: int, seconds: float = 10.0
) -> list[str]:
    """The upstream (instance) of each logged request matching `pattern` (nginx logs a
    WebSocket when it closes, so wait for `expected` lines)."""
    log = stack.log_file("nginx-access")

    def found() -> list[str]:
        return re.findall(pattern + r".*? upstream=(\S+)", log.read_text())

    await wait_until(
        lambda: len(found()) >= expected, seconds, what=f"nginx logged {expected} x {pattern}"
    )
    return found()


async def test_through_nginx_pages_and_sockets_spread_over_both_instances(
    stack: Stack, people: People
) -> None:
    alice = await people(stack.url)
    bob = await people(stack.url)
    carol = await people(stack.url)
    slug = await make_room(alice, "Through nginx")
    await join(bob, slug)
    elsewhere = await make_room(carol, "Elsewhere via nginx")
    async with alice.connect(slug) as a, bob.connect(slug) as b, carol.connect(elsewhere) as c:
        for ws in (a, b, c):
            await hello(ws, 0)
        for seq, body in [(1, "first via nginx"), (2, "second via nginx")]:
            await b.send(f'{{"body": "{body}"}}')
            for ws in (a, b):
                frames = await receive_until(ws, lambda text, body=body: body in text)
                assert seqs_in("".join(frames)) == [seq]
        await nothing_came_before_a_marker(c, "second via nginx")
    instances = set(stack.upstreams)
    sockets = await upstreams_of(stack, rf'"GET /rooms/{slug}/ws HTTP/1\.1" 101', expected=2)
    # least_conn: the second socket goes to the instance that has none yet.
    assert set(sockets) == instances, sockets
    pages = await upstreams_of(
        stack, r'"(?:GET|POST) /(?:register|login|rooms)\S* HTTP/1\.1" \d+', 6
    )
    assert set(pages) == instances, pages


async def converse(
    stack: Stack,
    people: People,
    urls: list[str],
    outage: Callable[[], None],
    posts: int = 60,
) -> tuple[list[Listener], list[int]]:
    """One poster and three readers (on `urls` in turn) in a room; `outage` runs in a thread
    a third of the way through the posting, which goes on for a second after it ends.
    Returns the listeners once they hold the room's top seq, and the stored seqs."""
    poster = await people(urls[0])
    slug = await make_room(poster, "Outage")
    readers = [await people(urls[i % len(urls)]) for i in range(1, 4)]
    for reader in readers:
        await join(reader, slug)
    listeners: list[Listener] = []
    try:
        # One after the other: sockets joining a room at the same moment are another test.
        for person in [poster, *readers]:
            listeners.append(Listener(person, slug).start())
            await listeners[-1].wait_connected()
            await wait_until(
                lambda: listeners[-1].members_lists > 0, what="the socket is attached to its room"
            )
        # Until a first message reached every page, a socket may still be joining its room.
        assert await listeners[0].send("warm-up")
        await wait_until_all_hold(listeners, 1, seconds=10)
        assert all(lst.last == 1 for lst in listeners), report(listeners)
        outage_done: asyncio.Task[None] | None = None
        after_outage = 0
        i = 0
        while i < posts or outage_done is None or not outage_done.done() or after_outage < 20:
            i += 1
            await listeners[0].send(f"post {i}")
            if i == posts // 3:
                outage_done = asyncio.create_task(asyncio.to_thread(outage))
            if outage_done is not None and outage_done.done():
                outage_done.result()  # the outage itself must not have failed
                after_outage += 1
            await asyncio.sleep(0.05)  # pacing, not a wait: the posts span the outage
        # One socket's posts are stored in order: once the poster's page shows this one,
        # every post before it is stored (or was refused).
        await wait_until(lambda: listeners[0].send("last post"), 15, what="the poster can post")
        await wait_until(lambda: listeners[0].heard("last post"), 15, what="'last post' is back")
        top = stored_seqs(stack, slug)[0]
        await wait_until_all_hold(listeners, top, seconds=15)
        # Duplicates, had the pages been sent any, would come before this marker.
        await wait_until(lambda: listeners[0].send("marker"), 15, what="the poster can post")
        await wait_until_all_hold(listeners, top + 1, seconds=15)
        last, stored = stored_seqs(stack, slug)
        assert last == top + 1, "nothing but the marker was stored after the last post"
        return listeners, stored
    finally:
        for listener in listeners:
            await listener.stop()


def report(listeners: list[Listener]) -> str:
    return "; ".join(
        f"listener {n}: {len(lst.seqs)} seqs, last {lst.last}, closes {lst.close_codes}, "
        f"failed handshakes {lst.failed_handshakes}, gave up {lst.gave_up}, "
        f"arrived out of order {lst.out_of_order}, missing "
        f"{sorted(set(range(1, lst.last + 1)) - set(lst.seqs))}"
        for n, lst in enumerate(listeners)
    )


def assert_everyone_holds_everything_once_in_order(
    listeners: list[Listener], stored: list[int]
) -> None:
    assert stored == list(range(1, len(stored) + 1)), "MongoDB holds a gap-free history"
    # A socket closed with 1000/1001 leaves a real page disconnected (htmx does not
    # reconnect), and a poster's page that gave up posts nothing more.
    assert not any(lst.gave_up for lst in listeners), report(listeners)
    assert len(stored) >= 40, f"only {len(stored)} posts stored; {report(listeners)}"
    for listener in listeners:
        duplicates = sorted({s for s in listener.seqs if listener.seqs.count(s) > 1})
        assert duplicates == [], report(listeners)
        assert listener.shown == stored, report(listeners)


@pytest.mark.parametrize("outage", ["restart-redis", "cut-bus"])
async def test_after_redis_outage_everyone_holds_every_message_once_in_order(
    own_redis_stack: Stack, people: People, outage: str
) -> None:
    stack = own_redis_stack

    def restart() -> None:
        stack.restart_redis(down_for=1.0)

    def cut() -> None:
        assert stack.cut_bus() == 2, "one bus listener connection per instance"

    listeners, stored = await converse(
        stack, people, stack.instance_urls, restart if outage == "restart-redis" else cut
    )
    assert_everyone_holds_everything_once_in_order(listeners, stored)
    # The outage was real: each instance's bus lost its connection and got it back.
    for url in stack.instance_urls:
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{url}/metrics")).text
        found = re.search(r"^tac_bus_reconnects_total (\S+)$", metrics, re.M)
        assert found is not None and float(found.group(1)) >= 1, url


async def test_instance_stopped_clients_reconnect_through_nginx_with_full_history(
    own_stack: Stack, people: People
) -> None:
    stack = own_stack
    listeners, stored = await converse(stack, people, [stack.url], lambda: stack.stop_instance(0))
    assert_everyone_holds_everything_once_in_order(listeners, stored)
    codes = [code for lst in listeners for code in lst.close_codes]
    # least_conn put about half of the sockets on the stopped instance: each was closed
    # with 1012 (service restart), so htmx reconnects, here through nginx to the other.
    assert 1012 in codes, report(listeners)
    assert all(lst.connects >= 1 for lst in listeners)
    assert sum(lst.connects for lst in listeners) > len(listeners), report(listeners)


def test_stack_stops_exactly_what_it_started(tmp_path: Path) -> None:
    from tests.stack.conftest import make_stack

    stack = make_stack(tmp_path / "stack", nginx=False)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(stack.stop)
        stack.start()
        assert sorted(stack.running()) == ["app1", "app2", "mongo"]
        stack.kill_instance(1)
        assert sorted(stack.running()) == ["app1", "mongo"]
        stack.start_instance(1)
        assert sorted(stack.running()) == ["app1", "app2", "mongo"]
        # A pid file whose process is no longer ours (the pid was reused) is not obeyed.
        stranger = subprocess.Popen(["sleep", "30"])
        cleanup.callback(stranger.kill)
        stack.pid_file("app9").write_text(f"{stranger.pid}\n")
        assert sorted(stack.stop()) == ["app1", "app2", "mongo"]
        assert stranger.poll() is None, "stop() signalled a process it did not start"
        assert stack.running() == []
        assert list(tmp_path.glob("stack/*.pid")) == []


def test_command_line_up_status_down(tmp_path: Path) -> None:
    from tac.embedded import free_port

    need_programs()
    port = free_port()
    command = [sys.executable, "ops/stack.py", "--var-dir", str(tmp_path / "stack")]
    env = {k: v for k, v in os.environ.items() if k != "TAC_MONGO_URL"}
    env["TAC_REDIS_PREFIX"] = f"tac-cli-{port}"
    root = Path(__file__).resolve().parents[2]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*command, *args], cwd=root, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        up = run("up", "--instances", "1", "--port", str(port))
        assert f"Tac on http://127.0.0.1:{port}" in up
        status = run("status")
        assert re.search(r"running: app1, mongo, nginx(, redis)?$", status, re.M), status
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200
    finally:
        down = run("down")
    assert re.fullmatch(r"stopped nginx, app1(, redis)?, mongo", down.strip()), down
    assert run("status").strip() == "nothing is running"
