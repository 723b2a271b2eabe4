"""Real Chromium through Playwright: Debian's binary, one browser context per person."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import unique

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not shutil.which("chromium"), reason="Debian chromium is not installed"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        await browser.close()


async def sign_up(browser: Browser, base_url: str, display_name: str) -> Page:
    context = await browser.new_context(viewport={"width": 1100, "height": 640})
    page = await context.new_page()
    await page.goto(f"{base_url}/register")
    await page.fill("input[name=username]", unique(display_name.lower()))
    await page.fill("input[name=display_name]", display_name)
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("#general")
    return page
