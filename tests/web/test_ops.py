"""Health, readiness and metrics, as a load balancer and Prometheus see them."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Person


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert found, f"{name} missing"
    return float(found.group(1))


async def test_healthz_and_readyz_answer(person_factory: Any) -> None:
    person: Person = await person_factory(register=False)
    health = await person.http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = await person.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"mongo": True, "bus": True}


async def test_metrics_count_posts_and_deliveries(person_factory: Any) -> None:
    alice: Person = await person_factory()
    before = (await alice.http.get("/metrics")).text
    async with alice.connect("general") as ws:
        await ws.send('{"hello": true, "last_seq": 1000000}')
        await ws.send('{"body": "count me"}')
        async with __import__("asyncio").timeout(5):
            while "count me" not in await ws.recv():
                pass
        during = (await alice.http.get("/metrics")).text
        assert metric(during, "tac_open_sockets") >= 1
    assert (
        metric(during, "tac_messages_posted_total")
        == metric(before, "tac_messages_posted_total") + 1
    )
    assert metric(during, "tac_deliveries_total") > metric(before, "tac_deliveries_total")
    assert "tac_delivery_latency_seconds_bucket" in during
    assert "tac_bus_reconnects_total" in during
    assert "tac_slow_consumer_closes_total" in during


async def test_metrics_with_a_token_answer_only_its_bearer(
    base_url: str, settings: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(settings, "metrics_token", "scrape-me-7c1f")
    anyone = Person(base_url)
    try:
        refused = await anyone.http.get("/metrics")
        assert refused.status_code == 401 and "tac_" not in refused.text
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        wrong = await anyone.http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        scraper = await anyone.http.get(
            "/metrics", headers={"Authorization": "Bearer scrape-me-7c1f"}
        )
        assert scraper.status_code == 200 and "tac_messages_posted_total" in scraper.text
        assert (await anyone.http.get("/healthz")).status_code == 200  # still open
    finally:
        await anyone.close()
