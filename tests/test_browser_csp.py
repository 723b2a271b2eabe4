"""The pages under Tac's Content-Security-Policy, in real Chromium: nothing is blocked."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser import needs_chromium
from tests.conftest import unique

pytestmark = [pytest.mark.browser, needs_chromium]

# Runs before the page's own scripts (and is not subject to its CSP): keeps every report.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile);
});
"""


class Watched:
    """A page whose CSP violations, from the DOM event and from the console, are kept."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.console: list[str] = []
        self.failed: list[str] = []
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.console.append(message.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.failed.append(f"{response.status} {response.url}")

    async def violations(self) -> list[str]:
        reported: list[str] = await self.page.evaluate("window.__cspViolations || []")
        return reported + [m for m in self.console if "Content Security Policy" in m]


async def watched_page(browser: Browser) -> Watched:
    context = await browser.new_context(viewport={"width": 1100, "height": 640})
    await context.add_init_script(WATCH_VIOLATIONS)
    return Watched(context, await context.new_page())


async def signed_up(browser: Browser, base_url: str, name: str) -> Watched:
    watched = await watched_page(browser)
    page = watched.page
    await page.goto(f"{base_url}/register")
    await page.fill("input[name=username]", unique(name.lower()))
    await page.fill("input[name=display_name]", name)
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("#general")
    return watched


async def test_swagger_ui_renders_the_api_under_the_csp(
    browser: Browser, base_url: str, app: Any
) -> None:
    watched = await watched_page(browser)
    response = await watched.page.goto(f"{base_url}/api/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await expect(watched.page.locator(".swagger-ui .info .title")).to_contain_text(
        "Tac API", timeout=10_000
    )
    await expect(watched.page.locator(".opblock-summary-path").first).to_be_visible()
    assert await watched.page.locator(".opblock").count() > 5
    assert await watched.violations() == []
    assert watched.failed == []  # nothing it needs is missing
    await watched.context.close()


async def test_the_room_page_posts_and_receives_live_under_the_csp(
    browser: Browser, base_url: str, app: Any
) -> None:
    ada = await signed_up(browser, base_url, "Ada")
    grace = await signed_up(browser, base_url, "Grace")
    text = f"Under the CSP {unique('m')}"
    await ada.page.fill("#composer-body", text)
    await ada.page.press("#composer-body", "Enter")
    await expect(grace.page.locator("#messages article", has_text=text)).to_be_visible(timeout=5000)
    await expect(ada.page.locator("#composer-body")).to_have_value("")
    # htmx was told not to inject its indicator style (it would be an inline <style>).
    assert await ada.page.locator("head style").count() == 0
    for person in (ada, grace):
        assert await person.violations() == []
        await person.context.close()
