"""The archive server's pages and JSON API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import LineKind
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from openminutes.web.app import create_app
from openminutes.web.ratelimit import RateLimiter
from tests.helpers import recording

HOSTILE = ['"', "NOT", "charter NOT", "%", "_", "' OR 1=1--", "x" * 10_000, "a", "(", "*",
           "<script>alert(1)</script>", "\\", "NEAR(a b)", "-", "OR OR", "é"]


async def _meeting(recorder: Recorder, start: datetime, channel: str, said: list[str]) -> None:
    for n, text in enumerate(said):
        nick = "alice" if text.startswith("alice:") else "chair"
        recorder.submit(ChatEvent("net", channel, nick, text.removeprefix("alice:"),
                                  LineKind.MESSAGE, start + timedelta(minutes=n)))
    await recorder.drained()


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    storage = await Storage.open(database_url)
    publisher = Publisher(storage, tmp_path / "out")
    recorder, task = recording(storage, publisher)
    t = datetime(2025, 6, 1, 18, tzinfo=UTC)
    await _meeting(recorder, t, "#tc", [
        "#startmeeting tc", "alice:we should adopt the charter", "#agreed adopt the charter",
        "#action alice to publish the charter", "alice:<script>alert(1)</script> charter",
        "#endmeeting"])
    await _meeting(recorder, t + timedelta(days=7), "#tc", [
        "#startmeeting tc", "#rejected the old charter", "#endmeeting"])
    task.cancel()
    app = create_app(storage, publisher, RateLimiter(rate=0.001, burst=40))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    await storage.close()


async def test_security_headers_on_every_response(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in ("/", "/search?q=charter", "/api/search?q=charter", "/nope",
                 "/api/search?limit=0", "/tc/index.html", "/static/localtime.js"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_search_api_with_filters(client: TestClient) -> None:  # type: ignore[type-arg]
    data = await (await client.get("/api/search", params={"q": "charter"})).json()
    assert {(h["kind"], h["nick"]) for h in data["hits"]} == {
        ("line", "alice"), ("agreed", "chair"), ("action", "chair"), ("rejected", "chair")}
    decisions = await (await client.get("/api/search", params={
        "q": "charter", "kind": "decision", "until": "2025-06-01"})).json()
    assert [h["text"] for h in decisions["hits"]] == ["adopt the charter"]
    assert decisions["hits"][0]["url"].endswith("#l-3")
    assert decisions["hits"][0]["matches"] == ["charter"]


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_queries_are_answered(client: TestClient, query: str) -> None:  # type: ignore[type-arg]
    response = await client.get("/api/search", params={"q": query})
    assert response.status == 200
    assert "hits" in await response.json()
    page = await client.get("/search", params={"q": query})
    assert page.status == 200
    assert "<script>alert" not in await page.text()


@pytest.mark.parametrize(("path", "message"), [
    ("/api/search?q=x&limit=1000", "limit must be between 1 and 100"),
    ("/api/search?q=x&kind=bogus", "kind must be one of"),
    ("/api/search?q=x&since=yesterday", "since must be a date"),
    ("/api/meetings?offset=-1", "offset must be between"),
    ("/api/meetings/abc", "id must be an integer"),
])
async def test_bad_parameters_get_400(client: TestClient, path: str, message: str) -> None:  # type: ignore[type-arg]
    response = await client.get(path)
    assert response.status == 400
    assert message in (await response.json())["error"]


async def test_meetings_decisions_actions(client: TestClient) -> None:  # type: ignore[type-arg]
    meetings = await (await client.get("/api/meetings?series=tc&limit=1")).json()
    assert meetings["total"] == 2
    (newest,) = meetings["items"]
    assert newest["started_at"] == "2025-06-08T18:00:00Z"
    detail = await client.get(f"/api/meetings/{newest['id']}")
    assert (await detail.json())["items"][0]["text"] == "the old charter"
    assert (await client.get("/api/meetings/99999")).status == 404
    minutes = await client.get(newest["minutes"])
    assert minutes.status == 200
    decisions = await (await client.get("/api/decisions")).json()
    assert [d["kind"] for d in decisions["items"]] == ["rejected", "agreed"]
    actions = await (await client.get("/api/actions?person=ALICE")).json()
    assert [a["owners"] for a in actions["items"]] == [["alice"]]


async def test_openapi_describes_every_route(client: TestClient) -> None:  # type: ignore[type-arg]
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/api/meetings", "/api/meetings/{id}", "/api/search",
                                  "/api/decisions", "/api/actions"}


async def test_files_outside_the_archive_are_not_served(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd"):
        assert (await client.get(path)).status == 404


async def test_search_is_rate_limited_per_client(client: TestClient) -> None:  # type: ignore[type-arg]
    statuses = [(await client.get("/api/search?q=charter")).status for _ in range(45)]
    assert statuses[:40] == [200] * 40
    limited = await client.get("/api/search?q=charter")
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await client.get("/api/meetings")).status == 200  # only search is limited
