"""Two browser windows that nginx placed on different instances chat as one."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from ops.stack import Stack
from tests.browser import needs_chromium, sign_up
from tests.conftest import unique

pytestmark = [pytest.mark.stack, pytest.mark.browser, needs_chromium]


async def open_sockets(instance_url: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{instance_url}/metrics")).text
    found = re.search(r"^tac_open_sockets ([0-9.]+)$", text, re.MULTILINE)
    assert found
    return float(found.group(1))


async def test_two_windows_on_two_instances_chat_live(browser: Browser, stack: Stack) -> None:
    ada = await sign_up(browser, stack.url, "Ada")
    grace = await sign_up(browser, stack.url, "Grace")
    await expect(grace.locator("#members li.online")).to_have_count(2, timeout=5000)
    # least_conn in nginx put the two room sockets on different instances.
    assert [await open_sockets(url) for url in stack.instance_urls] == [1, 1]

    text = f"Across instances {unique('m')}"
    await ada.fill("#composer-body", text)
    await ada.press("#composer-body", "Enter")
    await expect(grace.locator("#messages article", has_text=text)).to_be_visible(timeout=5000)
    reply = f"Received {unique('r')}"
    await grace.fill("#composer-body", reply)
    await grace.press("#composer-body", "Enter")
    await expect(ada.locator("#messages article", has_text=reply)).to_be_visible(timeout=5000)
    for page in (ada, grace):
        await page.context.close()
