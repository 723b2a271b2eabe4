"""Presence across real instances: who is online, whichever instance they are on."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.stack import Stack
from tests.conftest import Person, hello
from tests.stack.conftest import make_stack, running

pytestmark = pytest.mark.stack
TTL, HEARTBEAT = 3.0, 0.5


@pytest.fixture
def presence_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = make_stack(tmp_path / "stack")
    stack.settings.update(
        TAC_PRESENCE_TTL_SECONDS=str(TTL), TAC_PRESENCE_HEARTBEAT_SECONDS=str(HEARTBEAT)
    )
    with running(stack) as started:
        yield started


def online_in_last_members_list(text: str) -> set[str]:
    last = text.rsplit('<section id="members"', 1)[-1]
    return set(re.findall(r'data-user="([0-9a-f]+)" class="online"', last))


async def user_id(person: Person) -> str:
    me = await person.http.get("/api/v1/users/me")  # the session works for the API too
    assert me.status_code == 200, me.text
    return str(me.json()["id"])


async def frames_until(ws: Any, seen: list[str], predicate: Any, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not predicate("".join(seen)):
            seen.append(await ws.recv())


async def test_user_on_b_is_online_for_a_and_drops_off_after_b_is_killed(
    presence_stack: Stack, people: Any
) -> None:
    a_url, b_url = presence_stack.instance_urls
    alice: Person = await people(a_url)
    bob: Person = await people(b_url)
    bob_id = await user_id(bob)
    async with alice.connect("general") as a:
        await hello(a, 10**9)
        frames: list[str] = []
        bob_ws = await bob.connect("general")  # closed by the crash below
        await hello(bob_ws, 10**9)
        await frames_until(a, frames, lambda t: bob_id in online_in_last_members_list(t), 5)
        # A page loaded on A now also lists bob as online.
        assert bob_id in online_in_last_members_list((await alice.http.get("/rooms/general")).text)

        presence_stack.kill_instance(1)  # SIGKILL: B says goodbye to nobody
        killed_at = time.monotonic()
        await frames_until(
            a,
            frames,
            lambda t: (
                'id="members"' in t.rsplit("<section", 1)[-1]
                and bob_id not in online_in_last_members_list(t)
            ),
            TTL + 4 * HEARTBEAT + 3,
        )
        dropped_after = time.monotonic() - killed_at
    assert dropped_after <= TTL + 2 * HEARTBEAT + 1.5
    page = (await alice.http.get("/rooms/general")).text
    assert bob_id not in online_in_last_members_list(page)


async def test_two_tabs_on_two_instances_are_one_person_online(
    presence_stack: Stack, people: Any
) -> None:
    a_url, b_url = presence_stack.instance_urls
    carol: Person = await people(a_url)
    carol_on_b = Person(b_url)
    carol_on_b.http.cookies = carol.http.cookies  # the same session, another instance
    carol_id = await user_id(carol)
    async with carol.connect("general") as tab1, carol_on_b.connect("general") as tab2:
        await hello(tab1, 10**9)
        await hello(tab2, 10**9)
        # Each tab's socket gets a members list with carol online once it is attached.
        for tab in (tab1, tab2):
            await frames_until(tab, [], lambda t: carol_id in online_in_last_members_list(t), 5)
        page = (await carol.http.get("/rooms/general")).text
        assert online_in_last_members_list(page) & {carol_id} == {carol_id}
        assert page.count(f'data-user="{carol_id}"') == 1
    await carol_on_b.close()
