"""How a room reads in real Chromium: times in the reader's zone with day separators,
messages grouped by author with avatars, who is online, room titles in any script, and
the small things of the pages around them (issue 13). Screenshots go to docs/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId
from playwright.async_api import Browser, Page, expect

from tac.chat.rooms import join_room, slugify
from tac.models import Room, User
from tac.models.message import Message, messages_collection
from tests.browser import needs_chromium
from tests.conftest import unique

pytestmark = [pytest.mark.browser, needs_chromium]

DESKTOP = {"width": 1100, "height": 640}
PHONE = {"width": 390, "height": 844}
NEW_YORK = ZoneInfo("America/New_York")


async def sign_up_in(
    browser: Browser, base_url: str, name: str, username: str = "", **context: Any
) -> Page:
    """A new person in a browser context of their own (zone, locale, viewport)."""
    context.setdefault("viewport", DESKTOP)
    page = await (await browser.new_context(**context)).new_page()
    await page.goto(f"{base_url}/register")
    await page.fill("input[name=username]", username or unique(name.split()[0].lower()))
    await page.fill("input[name=display_name]", name)
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("#general")
    return page


async def user_named(name: str) -> User:
    user = await User.find_one(User.display_name == name, sort=[("_id", -1)])
    assert user is not None
    return user


async def room_of(title: str, *people: User) -> Room:
    room = await Room(slug=slugify(unique(title)), title=title).insert()
    for person in people:
        await join_room(person, room)
    return room


async def said(room: Room, lines: list[tuple[User, datetime, str]]) -> None:
    """Messages stored as if posted by these people at these times."""
    assert room.id is not None
    docs = [
        Message(
            room=room.id,
            seq=room.last_seq + n,
            author=ObjectId(str(user.id)),
            author_name=user.display_name,
            body=body,
            created_at=at.astimezone(UTC),
        ).to_bson()
        for n, (user, at, body) in enumerate(lines, start=1)
    ]
    await messages_collection().insert_many(docs)
    room.last_seq += len(lines)
    await room.save()


def docs(repo_root: Path, name: str) -> str:
    (repo_root / "docs").mkdir(exist_ok=True)
    return str(repo_root / "docs" / name)


async def test_times_are_the_readers_own_with_day_separators(
    browser: Browser, base_url: str, app: Any
) -> None:
    page = await sign_up_in(
        browser, base_url, "Ny Reader", timezone_id="America/New_York", locale="en-US"
    )
    reader = await user_named("Ny Reader")
    now = datetime.now(NEW_YORK)
    three_days_ago = (now - timedelta(days=3)).replace(hour=20, minute=42, second=0)
    yesterday = (now - timedelta(days=1)).replace(hour=9, minute=5, second=0)
    room = await room_of("Zones", reader)
    await said(
        room,
        [
            (reader, three_days_ago, "late in the evening"),
            (reader, yesterday, "next morning"),
            (reader, now - timedelta(seconds=5), "just now"),
        ],
    )
    await page.goto(f"{base_url}/rooms/{room.slug}")
    evening = page.locator("article", has_text="late in the evening").locator("time")
    # 20:42 in New York is 01:42 UTC the next day: the server's zone must not show.
    await expect(evening).to_have_text("8:42 PM")
    title = await evening.get_attribute("title")
    assert title is not None and f"{three_days_ago:%B} {three_days_ago.day}," in title
    assert "8:42 PM" in title and f"{three_days_ago.year}" in title
    first_day = f"{three_days_ago:%A}, {three_days_ago:%B} {three_days_ago.day}"
    if three_days_ago.year != now.year:
        first_day = f"{three_days_ago:%A}, {three_days_ago:%B} {three_days_ago.day}, {now.year}"
    await expect(page.locator("#messages .day-sep")).to_have_text([first_day, "Yesterday", "Today"])
    # Each separator stands right before the first message of its day.
    before = await page.locator("#messages .day-sep").evaluate_all(
        "els => els.map(e => e.nextElementSibling.querySelector('.body').textContent)"
    )
    assert before == ["late in the evening", "next morning", "just now"]

    # The same messages in Tokyo: 01:42 UTC is 10:42 there.
    tokyo = await sign_up_in(browser, base_url, "Tokyo Reader", timezone_id="Asia/Tokyo")
    await join_room(await user_named("Tokyo Reader"), room)
    await tokyo.goto(f"{base_url}/rooms/{room.slug}")
    evening_in_tokyo = tokyo.locator("article", has_text="late in the evening").locator("time")
    await expect(evening_in_tokyo).to_have_text("10:42 AM")


async def test_messages_are_grouped_by_author_with_avatars_live_too(
    browser: Browser, base_url: str, app: Any, repo_root: Path
) -> None:
    ada_page = await sign_up_in(browser, base_url, "Ada Lovelace")
    grace_page = await sign_up_in(browser, base_url, "Grace Hopper")
    ada, grace = await user_named("Ada Lovelace"), await user_named("Grace Hopper")
    room = await room_of("Engines", ada, grace)
    start = datetime.now(UTC) - timedelta(hours=1)
    at = [start + timedelta(minutes=m) for m in (0, 1, 2, 3, 20)]
    await said(
        room,
        [
            (ada, at[0], "The engine can weave algebraic patterns."),
            (ada, at[1], "Like the loom weaves flowers and leaves."),
            (grace, at[2], "And it never forgets to carry the one?"),
            (ada, at[3], "Never, if the cards are right."),
            (ada, at[4], "Twenty minutes later: a new header."),
        ],
    )
    for page in (ada_page, grace_page):
        await page.goto(f"{base_url}/rooms/{room.slug}")
    articles = grace_page.locator("#messages article")
    await expect(articles).to_have_count(5)

    async def runs(page: Page) -> list[bool]:
        return await page.locator("#messages article").evaluate_all(
            "els => els.map(e => e.classList.contains('cont'))"
        )

    # One header per run of one author within a few minutes.
    assert await runs(grace_page) == [False, True, False, False, False]
    headers = grace_page.locator("#messages article:not(.cont) .author")
    await expect(headers).to_have_text(
        ["Ada Lovelace", "Grace Hopper", "Ada Lovelace", "Ada Lovelace"]
    )
    await expect(articles.nth(1).locator(".author")).to_be_hidden()
    avatars = grace_page.locator("#messages article .avatar")
    await expect(avatars.nth(0)).to_have_text("AL")
    await expect(avatars.nth(0)).to_be_visible()
    await expect(avatars.nth(1)).to_be_hidden()
    await expect(avatars.nth(2)).to_have_text("GH")
    colours = await avatars.evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert colours[0] == colours[3] == colours[4], "one colour per author"
    assert colours[0] != colours[2], "two authors, two colours"

    # Your own messages are marked, others' are not: per reader, from one fragment.
    mine = "els => els.map(e => e.classList.contains('mine'))"
    assert await articles.evaluate_all(mine) == [False, False, True, False, False]
    assert await ada_page.locator("#messages article").evaluate_all(mine) == [
        True,
        True,
        False,
        True,
        True,
    ]

    # Live: two posts in a row by Grace arrive as one run, hers to her, Grace's to Ada.
    for text in ["Found a moth in relay 70.", "First actual case of bug being found."]:
        await grace_page.fill("#composer-body", text)
        await grace_page.press("#composer-body", "Enter")
        await expect(ada_page.locator("article", has_text=text)).to_be_visible(timeout=5000)
    await expect(articles).to_have_count(7)
    assert (await runs(grace_page))[5:] == [False, True]
    assert (await runs(ada_page))[5:] == [False, True]
    assert (await articles.evaluate_all(mine))[5:] == [True, True]
    live_on_ada = ada_page.locator("#messages article")
    assert (await live_on_ada.evaluate_all(mine))[5:] == [False, False]
    await expect(ada_page.locator("#messages .day-sep")).to_have_count(1)

    await ada_page.screenshot(path=docs(repo_root, "reading-desktop.png"))
    phone = await (await browser.new_context(viewport=PHONE)).new_page()
    await phone.context.add_cookies(await ada_page.context.cookies())
    await phone.goto(f"{base_url}/rooms/{room.slug}")
    await expect(phone.locator("#messages article")).to_have_count(7)
    await phone.screenshot(path=docs(repo_root, "reading-phone.png"))


async def test_members_online_anywhere_first_then_offline_greyed(
    browser: Browser, base_url: str, app: Any, repo_root: Path
) -> None:
    ada_page = await sign_up_in(browser, base_url, "Ada Online")
    grace_page = await sign_up_in(browser, base_url, "Grace Elsewhere")  # #general open
    linus_page = await sign_up_in(browser, base_url, "Linus Gone")
    ada, grace = await user_named("Ada Online"), await user_named("Grace Elsewhere")
    linus = await user_named("Linus Gone")
    room = await room_of("Presence", ada, grace, linus)
    await linus_page.context.close()  # Linus has gone: no socket anywhere

    await ada_page.goto(f"{base_url}/rooms/{room.slug}")
    members = ada_page.locator("#members")
    # Grace has only #general open: connected, so online here too.
    await expect(members.locator("li.online .who")).to_have_text(
        [f"Ada Online @{ada.username}", f"Grace Elsewhere @{grace.username}"], timeout=5000
    )
    await expect(members.locator("li.offline .who")).to_have_text([f"Linus Gone @{linus.username}"])
    await expect(members.locator("h2")).to_have_text("Members (3) · 2 online")
    opacity = await members.locator("li.offline").evaluate("e => getComputedStyle(e).opacity")
    assert float(opacity) < 1, "offline members are greyed"

    # Grace closes her tab: she goes offline in this room too, live.
    await grace_page.context.close()
    await expect(members.locator("li.offline")).to_have_count(2, timeout=10000)
    await expect(members.locator("h2")).to_have_text("Members (3) · 1 online")

    # A visitor (not a member) is counted apart, not listed.
    visitor = await sign_up_in(browser, base_url, "Vera Visitor")
    await visitor.goto(f"{base_url}/rooms/{room.slug}")
    await expect(members.locator(".visitors")).to_have_text("1 visitor reading", timeout=5000)
    await expect(members.locator("li")).to_have_count(3)
    await ada_page.screenshot(path=docs(repo_root, "members-desktop.png"))


async def test_a_new_users_first_paint_counts_them_online(browser: Browser, base_url: str) -> None:
    """Rendered before their socket opens: they are online, not "0 online"."""
    page = await sign_up_in(browser, base_url, "Fresh Face", java_script_enabled=False)
    me = await user_named("Fresh Face")
    members = page.locator("#members")
    await expect(members.locator(f'li.online[data-user="{me.id}"]')).to_have_count(1)
    assert "0 online" not in await members.locator("h2").inner_text()


async def test_a_room_titled_in_japanese_is_made_and_shown_as_typed(
    browser: Browser, base_url: str, repo_root: Path
) -> None:
    page = await sign_up_in(browser, base_url, "Kenji")
    title = f"日本語チーム {unique('t')[-4:]}"
    await page.goto(f"{base_url}/rooms")
    await page.fill("input[name=title]", title)
    await page.click("form:has(input[name=title]) button[type=submit]")
    await expect(page.locator(".room-head h1")).to_contain_text(title)
    await expect(page.locator("#my-rooms a[aria-current=page]")).to_contain_text("日本語チーム")
    await page.fill("#composer-body", "こんにちは")
    await page.press("#composer-body", "Enter")
    await expect(page.locator("#messages article", has_text="こんにちは")).to_be_visible()
    await page.reload()
    await expect(page.locator("#messages article", has_text="こんにちは")).to_be_visible()


async def test_the_small_things(browser: Browser, base_url: str, repo_root: Path) -> None:
    page = await sign_up_in(browser, base_url, "Picky Reviewer")
    active = page.locator("#my-rooms a[aria-current=page]")
    button = page.locator(".sidebar .button")

    def background(locator: Any) -> Any:
        return locator.evaluate("e => getComputedStyle(e).backgroundColor")

    assert await background(active) != await background(button), "active room is no button"

    # A 404 keeps the sidebar.
    missing = await page.goto(f"{base_url}/rooms/{unique('nowhere')}")
    assert missing is not None and missing.status == 404
    await expect(page.locator("nav.sidebar #my-rooms a")).to_contain_text(["#general"])

    # Tokens: a copy button, and Revoke asks first.
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.goto(f"{base_url}/settings/tokens")
    await page.fill("input[name=name]", "build bot with a rather long name")
    await page.click("form:has(input[name=name]) button[type=submit]")
    secret = await page.locator("#new-token").inner_text()
    await page.click("button[data-copy]")
    await expect(page.locator("button[data-copy]")).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == secret

    revoke = page.locator("#tokens button", has_text="Revoke")
    dialogs: list[str] = []

    async def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await revoke.click()
    await expect(page.locator("#tokens li")).to_have_count(1)
    assert dialogs and "build bot" in dialogs[0]

    await page.set_viewport_size(PHONE)
    box = await revoke.bounding_box()
    height = await revoke.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert box is not None and box["height"] < 2 * height, "Revoke on one line"
    await page.screenshot(path=docs(repo_root, "tokens-phone.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    await revoke.click()
    await expect(page.locator("#tokens li")).to_have_count(0)


async def test_the_readme_screenshot_is_a_real_conversation(
    browser: Browser, base_url: str, app: Any, repo_root: Path
) -> None:
    """docs/screenshot.png (README's first picture) and its phone twin: people with names,
    a room with a title, two days of talk, one person offline."""
    names = [("ada", "Ada Lovelace"), ("charles", "Charles Babbage"), ("grace", "Grace Hopper")]
    pages = {}
    for username, name in names:
        pages[username] = await sign_up_in(
            browser, base_url, name, username=username, viewport={"width": 1100, "height": 760}
        )
    ada, charles, grace = [await user_named(name) for _, name in names]
    room = await Room(
        slug="analytical-engine", title="Analytical Engine", topic="Cards, mills and stores"
    ).insert()
    for person in (ada, charles, grace):
        await join_room(person, room)
    now = datetime.now(UTC)
    day_before = now - timedelta(days=1)
    talk = [
        (charles, -1, 15, 2, "The mill is assembled. The store holds a thousand numbers."),
        (ada, -1, 15, 6, "Then it can compute the Bernoulli numbers. My table is ready."),
        (ada, -1, 15, 7, "Note G, in the appendix: every variable card, in order."),
        (charles, -1, 15, 31, "I will have the cards punched by Friday."),
        (grace, 0, -14, 0, "Morning! I read Note G last night: a program, a century early."),
        (grace, 0, -13, 0, "Can the engine loop back over the same cards?"),
        (ada, 0, -9, 0, "Yes: the cards can be backed, so a cycle repeats as needed."),
    ]
    await said(
        room,
        [
            (who, day_before.replace(hour=h, minute=m) if day else now + timedelta(minutes=h), text)
            for who, day, h, m, text in talk
        ],
    )
    await pages["charles"].context.close()  # Charles is away
    await pages["grace"].goto(f"{base_url}/rooms/{room.slug}")
    page = pages["ada"]
    await page.goto(f"{base_url}/rooms/{room.slug}")
    await pages["grace"].fill("#composer-body", "Then I will write one that finds its own bugs.")
    await pages["grace"].press("#composer-body", "Enter")
    await expect(page.locator("#messages article")).to_have_count(8, timeout=5000)
    await expect(page.locator("#members li.online")).to_have_count(2, timeout=5000)
    await page.screenshot(path=docs(repo_root, "screenshot.png"))

    phone = await (await browser.new_context(viewport=PHONE)).new_page()
    await phone.context.add_cookies(await pages["grace"].context.cookies())
    await phone.goto(f"{base_url}/rooms/{room.slug}")
    await expect(phone.locator("#messages article")).to_have_count(8)
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px phone"
    await phone.screenshot(path=docs(repo_root, "screenshot-phone.png"))


async def test_day_separators_hold_when_older_history_is_loaded_above(
    browser: Browser, base_url: str, app: Any
) -> None:
    page = await sign_up_in(browser, base_url, "History Reader", timezone_id="Europe/Paris")
    reader = await user_named("History Reader")
    room = await room_of("Old days", reader)
    now = datetime.now(ZoneInfo("Europe/Paris"))
    long_ago = (now - timedelta(days=30)).replace(hour=12)
    await said(room, [(reader, long_ago + timedelta(minutes=n), f"old {n}") for n in range(10)])
    await said(room, [(reader, now - timedelta(seconds=60 - n), f"new {n}") for n in range(50)])
    await page.goto(f"{base_url}/rooms/{room.slug}")
    separators = page.locator("#messages .day-sep")
    await expect(page.locator("#messages article")).to_have_count(50)
    await expect(separators).to_have_text(["Today"])
    for _ in range(20):  # bring the top of the list into view until the older page is in
        if await page.locator("#messages article").count() == 60:
            break
        await page.locator("#messages > :first-child").scroll_into_view_if_needed()
        await page.mouse.wheel(0, -2000)
        await page.wait_for_timeout(100)
    await expect(page.locator("#messages article")).to_have_count(60)
    await expect(separators).to_have_count(2)
    first_of_each = await separators.evaluate_all(
        "els => els.map(e => e.nextElementSibling.querySelector('.body').textContent)"
    )
    assert first_of_each == ["old 0", "new 0"]
    await expect(separators.nth(1)).to_have_text("Today")
    # One header for the run of old messages, and one for the run of today's.
    assert await page.locator("#messages article:not(.cont)").count() == 2
