"""After sign-in the browser goes back to the page it came from, and only to a page here:
`next` is accepted only when a browser, after its own normalisation, stays on this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Route

from tac.web.auth import safe_next
from tests.browser import needs_chromium
from tests.conftest import Person

REFUSED = [
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "//evil.example",
    "///evil.example",
    "/%09/evil.example",
    "/%5Cevil.example",
    "/%2F/evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/rooms\x00/general",
    "/rooms/\x7fgeneral",
    "/rooms/\x85general",
    "",
    "/" + "a" * 3000,
]
ACCEPTED = ["/", "/ok/path?x=1", "/rooms/general", "/rooms/general/history?before=5#m"]


@pytest.mark.parametrize("target", REFUSED)
def test_a_next_that_could_leave_the_site_is_refused(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ACCEPTED)
def test_a_path_on_this_site_is_accepted(target: str) -> None:
    assert safe_next(target) == target


def test_no_next_is_refused() -> None:
    assert safe_next(None) is None


@pytest.mark.parametrize("target", [*REFUSED[:-1], *ACCEPTED])
async def test_the_login_form_redirects_only_to_pages_here(
    person_factory: Any, base_url: str, target: str
) -> None:
    owner: Person = await person_factory()
    again = Person(base_url)
    token = await again.csrf("/login")
    response = await again.http.post(
        "/login",
        params={"next": target},
        data={"username": owner.username, "password": "correct horse", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["location"] == (target if target in ACCEPTED else "/")
    await again.close()


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("target", ["/\\evil.example", "/\t/evil.example", "/%09/evil.example"])
async def test_chromium_stays_on_the_site_after_signing_in(
    browser: Browser, person_factory: Any, base_url: str, target: str
) -> None:
    owner: Person = await person_factory()
    context = await browser.new_context()
    evil: list[str] = []

    async def elsewhere(route: Route) -> None:
        evil.append(route.request.url)
        await route.fulfill(body="evil")

    await context.route("**/*", _pass_or(elsewhere, urlsplit(base_url).netloc))
    page = await context.new_page()
    await page.goto(f"{base_url}/login?next={quote(target, safe='/')}")
    await page.fill("input[name=username]", owner.username)
    await page.fill("input[name=password]", "correct horse")
    await page.click("button[type=submit]")
    await page.wait_for_load_state("load")
    assert urlsplit(page.url).netloc == urlsplit(base_url).netloc, page.url
    assert evil == []
    await context.close()


def _pass_or(elsewhere: Any, here: str) -> Any:
    """Requests to this site go through; any other host is answered by `elsewhere`."""

    async def handle(route: Route) -> None:
        if urlsplit(route.request.url).netloc == here:
            await route.continue_()
        else:
            await elsewhere(route)

    return handle
