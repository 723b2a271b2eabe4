"""Every error under /api/ is JSON with the right status; the OpenAPI document is valid."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openapi_spec_validator import validate

from tests.web.test_api_support import API, ApiUsers, assert_error


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[ApiUsers]:
    async with ApiUsers(base_url) as users:
        yield users


async def test_unknown_api_route_is_json_404(api: ApiUsers) -> None:
    alice = await api.new()
    assert_error(await alice.http.get("/no/such/thing"), 404, "not_found")
    assert_error(await api.anonymous.get("/api/v2/rooms"), 404, "not_found")


async def test_wrong_method_is_json_405_with_allow(api: ApiUsers) -> None:
    alice = await api.new()
    response = await alice.http.put("/rooms")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_body_too_large_is_json_413(api: ApiUsers) -> None:
    alice = await api.new()
    slug = (await alice.new_room())["slug"]
    huge = b'{"body": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await alice.http.post(
        f"/rooms/{slug}/messages", content=huge, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413)


async def test_malformed_bodies_are_json_400_or_422(api: ApiUsers) -> None:
    alice = await api.new()
    json_type = {"Content-Type": "application/json"}
    broken = await alice.http.post("/rooms", content=b'{"title": ', headers=json_type)
    assert_error(broken, 400, "bad_request")
    assert "invalid JSON" in broken.json()["error"]["message"]
    assert "browser (or proxy)" not in broken.json()["error"]["message"]
    not_utf8 = await alice.http.post("/rooms", content=b'{"title": "\xff\xfe"}', headers=json_type)
    assert_error(not_utf8, 400, "bad_request")
    assert_error(await alice.http.post("/rooms", content=b"title=x"), 422, "invalid")
    assert_error(await alice.http.post("/rooms", json=None), 422, "invalid")
    invalid = await alice.http.post("/rooms", json={"title": 1})
    assert_error(invalid, 422, "invalid")
    assert "title" in invalid.json()["error"]["message"]


async def test_openapi_document_is_valid_and_only_describes_the_api(api: ApiUsers) -> None:
    response = await api.anonymous.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    paths = document["paths"]
    assert all(path.startswith(f"{API}/") for path in paths)
    assert {"post", "get"} <= set(paths[f"{API}/rooms"])
    assert paths[f"{API}/tokens"]["post"]["security"] == []
    assert "401" in paths[f"{API}/users/me"]["get"]["responses"]
    assert "204" in paths[f"{API}/tokens/{{token_id}}"]["delete"]["responses"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_docs_page_and_no_docs_at_the_root(api: ApiUsers, base_url: str) -> None:
    docs = await api.anonymous.get(base_url + "/api/docs")
    assert docs.status_code == 200 and f"{API}/openapi.json" in docs.text
    assert (await api.anonymous.get(base_url + "/openapi.json")).status_code == 404
    assert (await api.anonymous.get(base_url + "/docs")).status_code in (302, 404)


async def test_options_needs_no_token(api: ApiUsers) -> None:
    response = await api.anonymous.options("/rooms")
    assert response.status_code == 200
    assert "POST" in response.headers["allow"]
