"""Security headers on every response, and pages that need nothing the CSP forbids."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tac.settings import Settings
from tests.conftest import Person

PATHS = [
    "/login",
    "/static/htmx.min.js",
    "/api/docs",
    "/api/v1/openapi.json",
    "/api/v1/rooms",  # 401 JSON
    "/no-such-page",  # 404
    "/healthz",
]


@pytest.mark.parametrize("path", PATHS)
async def test_every_response_carries_the_security_headers(base_url: str, path: str) -> None:
    person = Person(base_url)
    response = await person.http.get(path)
    await person.close()
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # TAC_COOKIE_SECURE is off


async def test_hsts_is_sent_when_cookies_are_secure(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "cookie_secure", True)
    person = Person(base_url)
    response = await person.http.get("/healthz")
    await person.close()
    assert response.headers["Strict-Transport-Security"] == (
        f"max-age={settings.hsts_max_age_seconds}"
    )


def test_templates_have_no_inline_script_style_or_handler(repo_root: Path) -> None:
    for template in (repo_root / "src" / "tac" / "templates").rglob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), template
        assert not re.search(r"<style\b", html), template
        assert not re.search(r"\son[a-z]+\s*=", html), template
        assert not re.search(r"\sstyle\s*=", html), template
        assert not re.search(r"\shx-on", html), template  # htmx would eval it
        assert "https://" not in html and "//cdn" not in html, template


async def test_api_docs_load_swagger_ui_from_our_own_origin(person_factory: Any) -> None:
    person: Person = await person_factory(register=False)
    page = (await person.http.get("/api/docs")).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/swagger/swagger-ui-bundle.js" in sources
    assert "/static/swagger/swagger-ui.css" in sources
    assert all(s.startswith("/static/") for s in sources), sources
    for source in sources:
        assert (await person.http.get(source)).status_code == 200
