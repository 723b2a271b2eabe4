"""Unread badges across real instances: the page's one socket on one instance hears a room
whose messages are posted on the other, and reading it clears the badge on both."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ops.stack import Stack
from tests.conftest import Person
from tests.stack.conftest import join, make_room
from tests.waiting import wait_until
from tests.web.test_page_socket import page, post

pytestmark = pytest.mark.stack


async def room_id(person: Person, slug: str) -> str:
    shown = await person.http.get(f"/rooms/{slug}")
    found = re.search(r'id="room-panel" class="room" data-room="([0-9a-f]{24})"', shown.text)
    assert found, shown.text[:500]
    return found.group(1)


async def test_a_badge_rises_across_instances_and_reading_clears_it_in_the_other_tab(
    stack: Stack, people: Any
) -> None:
    a_url, b_url = stack.instance_urls
    alice_a: Person = await people(a_url)
    bob: Person = await people(b_url)
    r_slug = await make_room(bob, "Busy across instances")
    s_slug = await make_room(alice_a, "Quiet across instances")
    await join(alice_a, r_slug)
    r, s = await room_id(bob, r_slug), await room_id(alice_a, s_slug)
    # Alice's second tab, with the same session, on the other instance.
    alice_b = Person(b_url)
    alice_b.http.cookies.update(alice_a.http.cookies)
    try:
        async with (
            page(alice_a, s, last_seq=0) as tab_a,
            page(alice_b, s, last_seq=0) as tab_b,
            page(bob, r, last_seq=0) as b,
        ):
            await post(b, r, "one", "two", "three")  # posted on instance B
            for tab in (tab_a, tab_b):
                await tab.badge(r, "3", seconds=10)
            assert "three" not in tab_a.text
            # Alice opens R in tab A (same socket, on instance A) and reads it there.
            await tab_a.send(open=r, last_seq=0)
            await tab_a.shows("three")
            await tab_a.send(read=r, seq=3)
            await tab_b.badge(r, "", seconds=10)  # cleared on instance B too
            await post(b, r, "four")
            await tab_a.shows("four")
            await tab_b.badge(r, "1", seconds=10)
            # Bob types on instance B; alice sees it on instance A, then it goes by itself.
            await b.send(typing=r)
            await tab_a.shows("is typing…", seconds=10)
            shown_at = len(tab_a.frames)
            await wait_until(
                lambda: re.search(r'<p id="typing"[^>]*></p>', "".join(tab_a.frames[shown_at:])),
                15,
                what="the typing indicator expires on the other instance",
            )
    finally:
        await alice_b.close()


async def test_joining_on_one_instance_subscribes_the_socket_on_the_other(
    stack: Stack, people: Any
) -> None:
    a_url, b_url = stack.instance_urls
    alice: Person = await people(a_url)
    bob: Person = await people(b_url)
    slug = await make_room(bob, "Joined across instances")
    r = await room_id(bob, slug)
    general = await room_id(alice, "general")
    alice_b = Person(b_url)  # joins through instance B
    alice_b.http.cookies.update(alice.http.cookies)
    try:
        async with page(alice, general, last_seq=0) as a, page(bob, r, last_seq=0) as b:
            await join(alice_b, slug)
            await a.shows(f'<li id="side-{r}">', seconds=10)
            await post(b, r, "right after the join")
            await a.badge(r, "1", seconds=10)
    finally:
        await alice_b.close()
