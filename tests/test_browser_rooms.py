"""One socket per page in real Chromium: badges of the rooms not on screen, switching rooms
without a new socket, the read mark clearing every tab, the "new messages" divider."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tac.models import Room
from tests.browser import needs_chromium, sign_up
from tests.conftest import unique

pytestmark = [pytest.mark.browser, needs_chromium]


def count_sockets(page: Page) -> list[str]:
    """The URLs of every WebSocket the page opens from now on."""
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    return opened


async def username_of(page: Page) -> str:
    text = await page.locator(".whoami").inner_text()
    found = re.search(r"\(@([^)]+)\)", text)
    assert found
    return found.group(1)


async def sign_in(browser: Browser, base_url: str, username: str) -> Page:
    """Another browser (a second device) of someone already signed up."""
    context = await browser.new_context(viewport={"width": 1100, "height": 640})
    page = await context.new_page()
    await page.goto(f"{base_url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("#general")
    return page


async def create_room(page: Page, base_url: str, title: str) -> str:
    await page.goto(f"{base_url}/rooms")
    await page.fill("input[name=title]", title)
    await page.click("text=Create room")
    await expect(page.locator("h1")).to_contain_text(f"#{title}")
    return title


async def join_room(page: Page, base_url: str, slug: str) -> None:
    await page.goto(f"{base_url}/rooms")
    await page.locator("li", has_text=f"#{slug}").get_by_role("button", name="Join").click()
    await expect(page.locator("h1")).to_contain_text(f"#{slug}")


async def say(page: Page, text: str) -> None:
    await page.fill("#composer-body", text)
    await page.press("#composer-body", "Enter")
    await expect(page.locator("#messages article", has_text=text)).to_be_visible()


async def test_badges_switching_without_a_new_socket_and_reading_clears_every_tab(
    browser: Browser, base_url: str, repo_root: Path, app: Any
) -> None:
    ada = await sign_up(browser, base_url, "Ada")
    bob = await sign_up(browser, base_url, "Bob")
    slug = await create_room(bob, base_url, unique("design").replace("_", "-"))
    await join_room(ada, base_url, slug)
    room = await Room.find_one(Room.slug == slug)
    assert room is not None
    badge = f"#unread-{room.id}"

    ada_sockets = count_sockets(ada)
    await ada.goto(f"{base_url}/rooms/general")
    other_tab = await sign_in(browser, base_url, await username_of(ada))
    await expect(ada.locator(badge)).to_be_empty()

    for text in ["Kick-off at ten", "Agenda: the sidebar", "Bring coffee"]:
        await say(bob, text)
    for tab in (ada, other_tab):
        await expect(tab.locator(badge)).to_have_text("3", timeout=5000)
    await expect(ada).to_have_title("(3) #general · Tac")
    await expect(ada.locator(f"#my-rooms a[data-room='{room.id}']")).to_have_css(
        "font-weight", "700"
    )

    # Ada opens the room from the sidebar: the panel is swapped, the socket stays.
    await ada.locator(f"#my-rooms a[data-room='{room.id}']").click()
    await expect(ada.locator("h1")).to_contain_text(f"#{slug}")
    assert ada.url == f"{base_url}/rooms/{slug}"
    divider = ada.locator("#unread-divider")
    await expect(divider).to_be_visible()
    first_unread = ada.locator("#unread-divider + article")
    await expect(first_unread).to_contain_text("Kick-off at ten")
    await expect(ada.locator(badge)).to_be_empty()
    await expect(ada).to_have_title(f"#{slug} · Tac")
    # Read here: the badge clears in her other tab too.
    await expect(other_tab.locator(badge)).to_be_empty(timeout=5000)
    await other_tab.reload()  # the read marker is stored: still read after a reload
    await expect(other_tab.locator("h1")).to_contain_text("#general")
    await expect(other_tab.locator(badge)).to_be_empty()
    await expect(other_tab).to_have_title("#general · Tac")

    # Live in the room now on screen, still on the one socket: Bob typing, then his message.
    await bob.locator("#composer-body").press_sequentially("Welc")
    await expect(ada.locator("#typing")).to_have_text("Bob is typing…")
    await expect(bob.locator("#typing")).to_have_text("")  # never one's own
    await say(bob, "Welcome, Ada")
    await expect(ada.locator("#messages article", has_text="Welcome, Ada")).to_be_visible()
    await expect(ada.locator("#typing")).to_have_text("")  # he sent it: no longer typing
    (repo_root / "docs").mkdir(exist_ok=True)
    await ada.screenshot(path=str(repo_root / "docs" / "rooms-unread.png"))

    # Back and forward swap the panel too; still no new socket.
    await ada.go_back()
    await expect(ada.locator("h1")).to_contain_text("#general")
    await ada.go_forward()
    await expect(ada.locator("h1")).to_contain_text(f"#{slug}")
    await say(ada, "Back again")
    await expect(bob.locator("#messages article", has_text="Back again")).to_be_visible()
    assert len(ada_sockets) == 1, ada_sockets
    for page in (ada, bob, other_tab):
        await page.context.close()


async def test_a_mention_elsewhere_gets_a_mention_badge_then_shows_below_the_divider(
    browser: Browser, base_url: str, repo_root: Path, app: Any
) -> None:
    ada = await sign_up(browser, base_url, "Ada")
    bob = await sign_up(browser, base_url, "Bob")
    ada_name = await username_of(ada)
    design = await create_room(bob, base_url, unique("design").replace("_", "-"))
    chatter = await create_room(bob, base_url, unique("random").replace("_", "-"))
    for slug in (design, chatter):
        await join_room(ada, base_url, slug)
    ids = {slug: str((await Room.find_one(Room.slug == slug)).id) for slug in (design, chatter)}  # type: ignore[union-attr]
    await ada.goto(f"{base_url}/rooms/general")

    await bob.goto(f"{base_url}/rooms/{chatter}")
    await say(bob, "Lunch at noon?")
    await say(bob, "The usual place")
    await bob.goto(f"{base_url}/rooms/{design}")
    await say(bob, "Morning! The new sidebar is up for review.")
    # "@" and the start of a name offer the room's members; Tab takes the first.
    await bob.locator("#composer-body").press_sequentially(f"@{ada_name[:5]}")
    offer = bob.locator("#mention-suggestions button", has_text=f"@{ada_name}")
    await expect(offer).to_be_visible()
    await bob.locator("#composer-body").press("Tab")
    await expect(bob.locator("#composer-body")).to_have_value(f"@{ada_name} ")
    await bob.locator("#composer-body").press_sequentially("could you look at the badges?")
    await bob.locator("#composer-body").press("Enter")
    mention_text = f"@{ada_name} could you look at the badges?"
    await expect(bob.locator("#messages article", has_text=mention_text)).to_be_visible()

    design_badge = ada.locator(f"#unread-{ids[design]}")
    await expect(design_badge).to_have_text("2", timeout=5000)
    await expect(design_badge).to_have_class(re.compile(r"\bmentioned\b"))
    await expect(design_badge).to_have_attribute("aria-label", "2 unread, 1 mention")
    chatter_badge = ada.locator(f"#unread-{ids[chatter]}")
    await expect(chatter_badge).to_have_text("2")
    await expect(chatter_badge).not_to_have_class(re.compile(r"\bmentioned\b"))
    await expect(ada).to_have_title("(4) #general · Tac")
    await ada.screenshot(path=str(repo_root / "docs" / "mention-badge.png"))

    await ada.locator(f"#my-rooms a[data-room='{ids[design]}']").click()
    await expect(ada.locator("h1")).to_contain_text(f"#{design}")
    below = ada.locator("#unread-divider ~ article")
    await expect(below).to_have_count(2)
    highlighted = ada.locator("#messages .body.mentions-me")
    await expect(highlighted).to_have_count(1)
    await expect(highlighted).to_have_text(mention_text)
    await expect(below.last.locator(".body.mentions-me")).to_have_count(1)
    link = highlighted.locator("a.mention")
    await expect(link).to_have_attribute("href", f"/users/{ada_name.lower()}")
    await expect(design_badge).to_be_empty()
    await expect(ada).to_have_title(f"(2) #{design} · Tac")
    await ada.screenshot(path=str(repo_root / "docs" / "mentions.png"))
    await ada.set_viewport_size({"width": 390, "height": 844})
    await expect(highlighted).to_be_visible()
    await ada.screenshot(path=str(repo_root / "docs" / "mentions-phone.png"))
    for page in (ada, bob):
        await page.context.close()


HIDDEN_TAB_WITH_NOTIFICATIONS = """
Object.defineProperty(document, "hidden", { get: () => true });
Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
window.shown = [];
window.Notification = class {
  constructor(title, options) { window.shown.push([title, (options || {}).body || ""]); }
};
window.Notification.permission = "granted";
"""


async def test_a_mention_notifies_a_hidden_tab_unless_the_room_is_muted(
    browser: Browser, base_url: str, app: Any
) -> None:
    bob = await sign_up(browser, base_url, "Bob")
    ada = await sign_up(browser, base_url, "Ada")
    ada_name = await username_of(ada)
    loud = await create_room(bob, base_url, unique("loud").replace("_", "-"))
    quiet = await create_room(bob, base_url, unique("quiet").replace("_", "-"))
    for slug in (loud, quiet):
        await join_room(ada, base_url, slug)
    await ada.locator("form.mute button").click()  # mutes #quiet, the room she is in
    await expect(ada.locator("form.mute button")).to_have_attribute(
        "aria-label", f"Unmute #{quiet}"
    )
    # Ada's tab is hidden from now on, and she allowed notifications.
    await ada.add_init_script(HIDDEN_TAB_WITH_NOTIFICATIONS)
    await ada.goto(f"{base_url}/rooms/general")
    await bob.goto(f"{base_url}/rooms/{quiet}")
    await say(bob, f"@{ada_name} in the muted room")
    await bob.goto(f"{base_url}/rooms/{loud}")
    await say(bob, f"@{ada_name} in the loud room")
    quiet_id = str((await Room.find_one(Room.slug == quiet)).id)  # type: ignore[union-attr]
    loud_id = str((await Room.find_one(Room.slug == loud)).id)  # type: ignore[union-attr]
    await expect(ada.locator(f"#unread-{loud_id}")).to_have_text("1", timeout=5000)
    await expect(ada.locator(f"#unread-{quiet_id}")).to_have_text("1", timeout=5000)
    await expect(ada.locator(f"#unread-{quiet_id}")).to_have_class(re.compile(r"\bmuted\b"))
    shown = await ada.evaluate("window.shown")
    assert shown == [[f"You were mentioned in #{loud}", ""]]
    for page in (ada, bob):
        await page.context.close()
