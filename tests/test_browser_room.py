"""The room page in real Chromium as a person uses it: on a phone, scrolled up in a long
history, through a dropped connection, and at the composer (issue 13, items 1-4 and 9)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from beanie import init_beanie
from playwright.async_api import Browser, Page, expect
from quart import Quart

from tac.app import create_app
from tac.chat.rooms import join_room, slugify
from tac.embedded import free_port
from tac.models import DOCUMENTS, Message, Room, User, messages_collection
from tac.settings import Settings
from tests.browser import needs_chromium, sign_up
from tests.chat.test_messages import room_with_messages
from tests.conftest import start_server, unique
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, needs_chromium]


async def send(page: Page, text: str) -> None:
    await page.fill("#composer-body", text)
    await page.press("#composer-body", "Enter")


CONVERSATION = [
    ("Ada", "Morning! Is the release branch cut yet?"),
    ("Grace", "Cutting it now. Two PRs are still in review: the export fix and the login page."),
    ("Linus", "The export fix is approved, merging it in a minute."),
    ("Ada", "Great, I'll update the changelog once it's in."),
    ("Grace", "The login page needs one more look: its error message overflows on small screens."),
    ("Linus", "I can take that after lunch."),
    ("Ada", "Thanks! Let's aim to tag 2.4 at 3 pm."),
]


async def conversation_room() -> Room:
    """A room where three people have been talking over the last half hour."""
    room = await Room(
        slug=slugify(unique("release")), title="Release 2.4", topic="Shipping 2.4 this week"
    ).insert()
    authors = {}
    for name in {name for name, _ in CONVERSATION}:
        username = unique(name.lower())
        authors[name] = await User(
            username=username, username_key=username, display_name=name, password_hash="-"
        ).insert()
    start = datetime.now(UTC) - timedelta(minutes=30)
    assert room.id is not None
    await messages_collection().insert_many(
        [
            Message(
                room=room.id,
                seq=seq,
                author=authors[name].id,  # type: ignore[arg-type]
                author_name=name,
                body=body,
                created_at=start + timedelta(minutes=4 * seq),
            ).to_bson()
            for seq, (name, body) in enumerate(CONVERSATION, start=1)
        ]
    )
    room.last_seq = len(CONVERSATION)
    await room.save()
    return room


async def in_room(base_url: str, room: Room | int, people: dict[str, Page]) -> str:
    """A room (or one of `room` stored messages, "message 1" ...), joined by each person (by
    the display name they signed up with, the latest of that name), open on their page."""
    if isinstance(room, int):
        room = await room_with_messages(room)
    for name in people:
        user = await User.find_one(User.display_name == name, sort=[("_id", -1)])
        assert user is not None
        await join_room(user, await Room.get(room.id))  # type: ignore[arg-type]
    for page in people.values():
        await page.goto(f"{base_url}/rooms/{room.slug}")
    return room.slug


async def overflow(page: Page) -> int:
    """How far the page reaches past the screen's right edge (sideways scrolling)."""
    return int(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


async def in_view(page: Page, selector: str) -> bool:
    """Whether the element is inside the visible part of the message list."""
    return bool(
        await page.evaluate(
            """sel => {
                const el = document.querySelector(sel), list = document.getElementById("messages");
                if (!el) return false;
                const a = el.getBoundingClientRect(), b = list.getBoundingClientRect();
                return a.bottom > b.top && a.top < b.bottom;
            }""",
            selector,
        )
    )


@pytest.mark.parametrize(("width", "height", "name"), [(390, 844, "phone"), (768, 1024, "tablet")])
async def test_a_phone_or_tablet_shows_the_room_without_sideways_scrolling(
    browser: Browser, base_url: str, repo_root: Path, app: Any, width: int, height: int, name: str
) -> None:
    person = {"phone": "Mina", "tablet": "Theo"}[name]
    page = await sign_up(browser, base_url, person)
    await page.set_viewport_size({"width": width, "height": height})
    await in_room(base_url, await conversation_room(), {person: page})
    await expect(page.locator("#messages article")).to_have_count(len(CONVERSATION))

    assert await overflow(page) <= 0
    box = await page.locator("#messages").bounding_box()
    assert box is not None and box["width"] >= (width - 40 if width < 640 else width - 300)
    composer = await page.locator("#composer-body").bounding_box()
    assert composer is not None
    assert composer["y"] > 0 and composer["y"] + composer["height"] <= height
    # The member list is a drawer: closed, it covers nothing; its button opens it.
    await expect(page.locator("#members")).to_be_hidden()
    await page.click(".members-toggle")
    await expect(page.locator("#members")).to_be_visible()
    await expect(page.locator("#members li.online", has_text=person)).to_be_visible()
    assert await overflow(page) <= 0
    await page.screenshot(path=str(repo_root / "docs" / f"room-{name}-members.png"))
    await page.keyboard.press("Escape")
    await expect(page.locator("#members")).to_be_hidden()
    if width < 640:  # the rooms are a drawer too
        await expect(page.locator(".sidebar")).to_be_hidden()
        await page.click(".rooms-toggle")
        await expect(page.locator(".sidebar a", has_text="#general")).to_be_visible()
        await page.screenshot(path=str(repo_root / "docs" / f"room-{name}-rooms.png"))
        await page.mouse.click(width - 10, height // 2)  # outside the drawer
        await expect(page.locator(".sidebar")).to_be_hidden()
    # The composer is usable: a message goes out and shows, still no sideways scroll.
    reply = "Sounds good, I'll be around to test the build."
    await send(page, reply)
    await expect(page.locator("#messages article", has_text=reply)).to_be_visible()
    assert await in_view(page, "#messages article:last-of-type")
    assert await overflow(page) <= 0
    await page.screenshot(path=str(repo_root / "docs" / f"room-{name}.png"))
    # An on-screen keyboard takes half the screen (Chrome resizes the page for it, as the
    # viewport meta asks): the composer and the newest message stay in sight above it.
    await page.focus("#composer-body")
    await page.set_viewport_size({"width": width, "height": height // 2})
    composer = await page.locator("#composer-body").bounding_box()
    assert composer is not None and composer["y"] + composer["height"] <= height // 2
    await wait_until(  # the page hears of the resize with the next frame
        lambda: in_view(page, "#messages article:last-of-type"), 5, what="the newest in view"
    )
    assert await overflow(page) <= 0


async def test_a_desktop_shows_rooms_messages_and_members_side_by_side(
    browser: Browser, base_url: str, repo_root: Path, app: Any
) -> None:
    page = await sign_up(browser, base_url, "Dana")
    await in_room(base_url, await conversation_room(), {"Dana": page})
    await send(page, "I'll run the smoke tests on staging before the tag.")
    await expect(page.locator("#messages article")).to_have_count(len(CONVERSATION) + 1)
    for side in (".sidebar", "#members", "#composer-body"):
        await expect(page.locator(side)).to_be_visible()
    for toggle in (".rooms-toggle", ".members-toggle"):
        await expect(page.locator(toggle)).to_be_hidden()
    assert await overflow(page) <= 0
    await page.screenshot(path=str(repo_root / "docs" / "room-desktop.png"))


async def test_scrolling_up_loads_one_page_per_scroll_and_keeps_the_place(
    browser: Browser, base_url: str, app: Any
) -> None:
    page = await sign_up(browser, base_url, "Reader")
    await in_room(base_url, 300, {"Reader": page})
    articles = page.locator("#messages article")
    await expect(articles).to_have_count(50)  # 251-300, opened at the newest
    assert await in_view(page, '[data-seq="300"]')

    for loaded, top in ((100, 251), (150, 201)):
        await page.evaluate("document.getElementById('messages').scrollTop = 0")
        await expect(articles).to_have_count(loaded)
        await asyncio.sleep(1.0)  # a cascade would go on loading meanwhile
        await expect(articles).to_have_count(loaded)
        assert await in_view(page, f'[data-seq="{top}"]'), f"message {top} left the view"
        assert not await in_view(page, f'[data-seq="{top - 50}"]')
    await expect(page.locator(".history-start")).to_have_count(0)
    await expect(page.locator(".history-trigger")).to_have_count(1)


async def test_a_history_page_that_failed_to_load_is_asked_for_again(
    browser: Browser, base_url: str, app: Any
) -> None:
    page = await sign_up(browser, base_url, "Patient")
    await in_room(base_url, 120, {"Patient": page})
    articles = page.locator("#messages article")
    await expect(articles).to_have_count(50)
    failed: list[str] = []

    async def fail_once(route: Any) -> None:
        if failed:
            await route.continue_()
        else:
            failed.append(route.request.url)
            await route.abort()

    await page.route("**/history?*", fail_once)
    await page.evaluate("document.getElementById('messages').scrollTop = 0")
    await expect(articles).to_have_count(100)
    assert len(failed) == 1


async def test_the_header_and_members_stay_put_and_new_messages_are_counted(
    browser: Browser, base_url: str, repo_root: Path, app: Any
) -> None:
    ada = await sign_up(browser, base_url, "Ada")
    grace = await sign_up(browser, base_url, "Grace")
    await in_room(base_url, 60, {"Ada": ada, "Grace": grace})
    await expect(ada.locator("#members li.online")).to_have_count(2)

    head = await ada.locator(".room-head").bounding_box()
    members = await ada.locator("#members").bounding_box()
    await ada.evaluate("document.getElementById('messages').scrollTop = 300")
    await ada.mouse.wheel(0, -200)
    assert await ada.evaluate("window.scrollY") == 0  # only the message list scrolls
    assert await ada.locator(".room-head").bounding_box() == head
    assert await ada.locator("#members").bounding_box() == members
    await expect(ada.locator("#jump-newest")).to_be_hidden()

    for text in ("Did the deploy go out?", "Yes, at 14:05."):
        await send(grace, text)
    await expect(ada.locator("#messages article", has_text="at 14:05")).to_have_count(1)
    jump = ada.locator("#jump-newest")
    await expect(jump).to_have_text("↓ 2 new messages")
    assert not await in_view(ada, "#messages article:last-of-type")  # the place is kept
    await ada.screenshot(path=str(repo_root / "docs" / "room-desktop-jump.png"))
    await jump.click()
    await expect(jump).to_be_hidden()
    assert await in_view(ada, "#messages article:last-of-type")
    # At the bottom, the reader follows new messages with no button.
    await send(grace, "Great, thanks")
    await expect(ada.locator("#messages article", has_text="Great, thanks")).to_be_visible()
    await expect(jump).to_be_hidden()
    assert await in_view(ada, "#messages article:last-of-type")


@pytest.fixture
async def own_server(settings: Settings, app: Quart) -> AsyncIterator[Any]:
    """A server of the test's own, which the test may stop and start again on one port."""
    mine = settings.model_copy(update={"port": free_port(), "unix_socket": None})
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    class Server:
        url = f"http://{mine.host}:{mine.port}"

        async def start(self) -> None:
            running.append(await start_server(create_app(mine), mine))

        async def stop(self) -> None:
            stop, task = running.pop()
            stop.set()
            await asyncio.wait_for(task, 15)

    server = Server()
    await server.start()
    yield server
    while running:
        await server.stop()
    # Beanie's documents are bound to the last app started, whose client is now closed:
    # bind them to the session app's again, for the tests that follow.
    session_db = app.extensions["tac"].mongo[settings.mongo_db]
    await init_beanie(database=session_db, document_models=DOCUMENTS)


async def test_a_server_restart_shows_reconnecting_and_a_post_typed_meanwhile_is_sent_once(
    browser: Browser, own_server: Any, repo_root: Path
) -> None:
    page = await sign_up(browser, own_server.url, "Restarter")
    await page.set_viewport_size({"width": 390, "height": 844})
    await in_room(own_server.url, await conversation_room(), {"Restarter": page})
    status = page.locator("#conn-status")
    await send(page, "before the restart")
    await expect(page.locator("#messages article", has_text="before the restart")).to_be_visible()

    await own_server.stop()  # its sockets are closed with 1012
    await expect(status).to_have_text("Reconnecting…")
    text = f"Typed while the server restarts ({unique('m')})"
    await send(page, text)
    pending = page.locator("#messages .msg.pending", has_text=text)
    await expect(pending).to_contain_text("Pending")
    await expect(page.locator("#composer-body")).to_have_value("")
    await page.screenshot(path=str(repo_root / "docs" / "room-phone-reconnecting.png"))
    await asyncio.sleep(4)  # the page has failed to reconnect a few times by now

    await own_server.start()
    back = time.monotonic()
    await expect(status).to_have_text("Connected", timeout=5000)
    took = time.monotonic() - back
    assert took <= 2.0, f"reconnected {took:.1f} s after the server was back"
    sent = page.locator("#messages article[data-seq]", has_text=text)
    await expect(sent).to_have_count(1)
    await expect(page.locator("#messages .msg.pending")).to_have_count(0)
    await page.reload()  # stored once
    await expect(page.locator("#messages article", has_text=text)).to_have_count(1)
    await expect(status).to_be_hidden()


async def test_the_page_reconnects_at_once_when_the_network_returns(
    browser: Browser, base_url: str, app: Any
) -> None:
    page = await sign_up(browser, base_url, "Roamer")
    status = page.locator("#conn-status")
    await send(page, f"on the train {unique('m')}")
    await expect(page.locator("#messages article", has_text="on the train")).to_be_visible()
    # Back off far longer than the test waits: only the `online` event can bring it back.
    await page.evaluate("document.querySelector('[data-reconnect-max]').dataset.reconnectMax = 60")

    await page.context.set_offline(True)
    await expect(status).to_have_text("Reconnecting…")
    text = f"in the tunnel {unique('m')}"
    await send(page, text)
    await expect(page.locator("#messages .msg.pending", has_text=text)).to_be_visible()
    too_long = "z" * 4001  # the server will refuse this one: the page must say so
    await send(page, too_long)
    await expect(page.locator("#messages .msg.pending")).to_have_count(2)
    await asyncio.sleep(4)
    await page.context.set_offline(False)
    back = time.monotonic()
    await expect(status).to_have_text("Connected", timeout=10_000)
    took = time.monotonic() - back
    assert took <= 2.0, f"reconnected {took:.1f} s after the network was back"
    await expect(page.locator("#messages article[data-seq]", has_text=text)).to_have_count(1)
    failed = page.locator("#messages .msg.pending.failed")
    await expect(failed).to_have_count(1)
    await expect(failed.locator(".state")).to_contain_text(
        "Not sent: A message may have at most 4000 characters"
    )
    await expect(page.locator("#composer-body")).to_have_value(too_long)  # the draft is back


async def test_an_online_event_while_connected_replaces_the_socket_once_and_quietly(
    browser: Browser, base_url: str, app: Any
) -> None:
    """A phone moving from Wi-Fi to mobile data says `online` while its socket still looks
    open (and may be dead): the page replaces it, once, without showing a drop."""
    page = await sign_up(browser, base_url, "Switcher")
    await expect(page.locator("#members li.online", has_text="Switcher")).to_be_visible()
    opened: list[Any] = []
    page.on("websocket", lambda socket: opened.append(socket))
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await wait_until(lambda: len(opened) == 1, 5, what="a new socket")
    await asyncio.sleep(2)
    assert len(opened) == 1
    await expect(page.locator("#conn-status")).to_be_hidden()
    text = f"still here {unique('m')}"
    await send(page, text)
    await expect(page.locator("#messages article[data-seq]", has_text=text)).to_have_count(1)


async def test_coming_back_online_ends_the_wait_between_tries_without_a_second_reconnect(
    browser: Browser, own_server: Any
) -> None:
    """The server restarts while the laptop is offline; the page has backed off by the time
    both are back. The `online` event reconnects at once, and the try htmx had scheduled
    is cancelled: it would otherwise replace the new socket a few seconds later."""
    page = await sign_up(browser, own_server.url, "Commuter")
    await expect(page.locator("#members li.online", has_text="Commuter")).to_be_visible()
    await page.evaluate("document.querySelector('[data-reconnect-max]').dataset.reconnectMax = 60")
    opened: list[float] = []
    page.on("websocket", lambda _: opened.append(time.monotonic()))
    status = page.locator("#conn-status")

    await own_server.stop()
    await expect(status).to_have_text("Reconnecting…")
    await page.context.set_offline(True)
    await asyncio.sleep(3)  # failed tries: the next one waits seconds now
    await own_server.start()
    await page.context.set_offline(False)
    back = time.monotonic()
    await expect(status).to_have_text("Connected", timeout=10_000)
    took = time.monotonic() - back
    assert took <= 2.0, f"reconnected {took:.1f} s after the network was back"
    await expect(page.locator("#members li.online", has_text="Commuter")).to_be_visible()
    since_back = [t for t in opened if t >= back]
    await asyncio.sleep(8)  # longer than any try scheduled before
    assert [t for t in opened if t >= back] == since_back == since_back[:1]
    await expect(status).to_be_hidden()


async def test_the_composer_counts_near_the_limit_and_ctrl_k_switches_rooms(
    browser: Browser, base_url: str, repo_root: Path, app: Any
) -> None:
    page = await sign_up(browser, base_url, "Writer")
    assert await page.evaluate("document.activeElement.id") == "composer-body"
    slug = await in_room(base_url, 3, {"Writer": page})
    assert await page.evaluate("document.activeElement.id") == "composer-body"

    counter = page.locator("#composer-count")
    await page.fill("#composer-body", "a" * 3000)
    await expect(counter).to_be_hidden()
    await page.fill("#composer-body", "a" * 3700)
    await expect(counter).to_have_text("3700 / 4000")
    pasted = "b" * 4010  # a paste over the limit is kept whole, and the counter says so
    await page.fill("#composer-body", pasted)
    await expect(page.locator("#composer-body")).to_have_value(pasted)
    await expect(counter).to_have_text("10 characters over the limit of 4000: shorten it to send")
    await page.fill("#composer-body", "")
    await expect(counter).to_be_hidden()

    await page.keyboard.press("Control+k")
    switcher = page.locator("#room-switcher")
    await expect(switcher).to_be_visible()
    await expect(switcher.locator("a")).to_have_count(2)  # #general and this room
    await page.keyboard.type("gene")
    await expect(switcher.locator("a")).to_have_text(["#general"])
    await page.screenshot(path=str(repo_root / "docs" / "room-switcher.png"))
    await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_contain_text("#general")
    await page.keyboard.press("Control+k")
    await page.keyboard.type(slug[-6:])
    await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_contain_text(f"#{slug}")
