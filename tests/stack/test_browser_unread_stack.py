"""Unread badges in real Chromium across two instances behind nginx: a badge rises for posts
made through the other instance, opening the room keeps the page's one socket, and reading
clears the badge in the other tab, on the other instance."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from ops.stack import Stack
from tests.browser import needs_chromium, sign_up
from tests.conftest import unique
from tests.stack.test_browser_stack import open_sockets
from tests.test_browser_rooms import (
    count_sockets,
    create_room,
    join_room,
    say,
    sign_in,
    username_of,
)

pytestmark = [pytest.mark.stack, pytest.mark.browser, needs_chromium]


async def test_badges_across_instances_and_one_socket_per_page(
    browser: Browser, stack: Stack
) -> None:
    bob = await sign_up(browser, stack.url, "Bob")
    ada = await sign_up(browser, stack.url, "Ada")
    slug = await create_room(bob, stack.url, unique("ops").replace("_", "-"))
    await join_room(ada, stack.url, slug)
    sockets = count_sockets(ada)
    await ada.goto(f"{stack.url}/rooms/general")
    other_tab = await sign_in(browser, stack.url, await username_of(ada))
    await bob.goto(f"{stack.url}/rooms/{slug}")
    # Three page sockets on two instances: nginx's least_conn spreads them.
    counts = [await open_sockets(url) for url in stack.instance_urls]
    assert sum(counts) == 3 and min(counts) >= 1, counts
    room_id = await bob.locator("#room-panel").get_attribute("data-room")
    badge = f"#unread-{room_id}"
    for text in ["deploy at noon", "freeze from eleven", "rollback plan ready"]:
        await say(bob, text)
    for tab in (ada, other_tab):
        await expect(tab.locator(badge)).to_have_text("3", timeout=10000)
    await ada.locator(f"#my-rooms a[data-room='{room_id}']").click()
    await expect(ada.locator("#unread-divider + article")).to_contain_text("deploy at noon")
    await expect(other_tab.locator(badge)).to_be_empty(timeout=10000)
    assert len(sockets) == 1, sockets
    for page in (ada, bob, other_tab):
        await page.context.close()
