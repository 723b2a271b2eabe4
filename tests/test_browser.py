"""Two people in real Chromium: one speaks, the other sees it without reloading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.browser import needs_chromium, sign_up
from tests.conftest import unique
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, needs_chromium]


async def test_a_message_appears_live_for_the_other_person(
    browser: Browser, base_url: str, repo_root: Path, app: Any
) -> None:
    ada = await sign_up(browser, base_url, "Ada")
    grace = await sign_up(browser, base_url, "Grace")
    text = f"Hello from Ada {unique('m')}"
    await ada.fill("#composer-body", text)
    await ada.press("#composer-body", "Enter")
    seen_by_grace = grace.locator("#messages article", has_text=text)
    await expect(seen_by_grace).to_be_visible(timeout=5000)
    await expect(seen_by_grace.locator(".author")).to_have_text("Ada")
    await expect(ada.locator("#messages article", has_text=text)).to_have_count(1)
    await expect(ada.locator("#composer-body")).to_have_value("")

    reply = "Hi Ada! <b>not bold</b>"
    await grace.fill("#composer-body", reply)
    await grace.click("#composer button[type=submit]")
    await expect(ada.locator("#messages article", has_text=reply)).to_be_visible(timeout=5000)
    assert await ada.locator("#messages b", has_text="not bold").count() == 0

    # Both are listed as online beside the room, live (others online anywhere may be too).
    for name in ("Ada", "Grace"):
        online = grace.locator("#members li.online", has_text=name)
        await expect(online).to_be_visible(timeout=5000)


async def test_an_over_long_message_shows_an_inline_error(
    browser: Browser, base_url: str, app: Any
) -> None:
    page = await sign_up(browser, base_url, "Linus")
    # No maxlength cuts the paste short (a counter warns instead): the server refuses it.
    await page.fill("#composer-body", "z" * 4001)
    await page.press("#composer-body", "Enter")
    await expect(page.locator("#composer-error")).to_contain_text("at most 4000 characters")
    await expect(page.locator("#composer-body")).to_have_value("z" * 4001)


async def test_scrolling_up_loads_earlier_messages_down_to_the_first(
    browser: Browser, base_url: str, app: Any
) -> None:
    from tac.chat.rooms import join_room
    from tac.models import Room, User
    from tests.chat.test_messages import room_with_messages

    room = await room_with_messages(120)
    page = await sign_up(browser, base_url, "Scroller")
    user = await User.find_one(User.display_name == "Scroller", sort=[("_id", -1)])
    assert user is not None
    await join_room(user, await Room.get(room.id))  # type: ignore[arg-type]
    await page.goto(f"{base_url}/rooms/{room.slug}")
    articles = page.locator("#messages article")
    await expect(articles).to_have_count(50)
    start = page.locator(".history-start")

    async def at_the_start() -> bool:
        if await start.count():
            return True
        # Only the message list scrolls: its top shows the trigger of the page before.
        await page.evaluate("document.getElementById('messages').scrollTop = 0")
        return False

    await wait_until(at_the_start, 15, interval=0.1, what="the history's start is loaded")
    await expect(start).to_be_visible()
    seqs = await articles.evaluate_all("els => els.map(e => +e.dataset.seq)")
    assert seqs == list(range(1, 121))
