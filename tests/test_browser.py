"""The archive in a real headless Chromium: browse, follow links to log lines, search with
a filter, no console errors (so the Content-Security-Policy allows everything we ship),
and a <script> said in a meeting shows as text."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import LineKind
from openminutes.publish.publisher import Publisher
from openminutes.storage import Storage
from openminutes.web.app import create_app
from openminutes.web.ratelimit import RateLimiter
from tests.helpers import recording

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    publisher = Publisher(storage, tmp_path / "out")
    recorder, task = recording(storage, publisher)
    start = datetime(2025, 6, 1, 18, tzinfo=UTC)
    said = [("chair", "#startmeeting tc"), ("chair", "#topic Charter"),
            ("mallory", "<script>alert('owned')</script>"),
            ("chair", "#agreed adopt the charter"), ("chair", "#info see https://example.org"),
            ("chair", "#endmeeting")]
    for n, (nick, text) in enumerate(said):
        recorder.submit(ChatEvent("net", "#tc", nick, text, LineKind.MESSAGE,
                                  start + timedelta(minutes=n)))
    await recorder.drained()
    task.cancel()
    server = TestServer(create_app(storage, publisher, RateLimiter(10, 50)))
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()
    await storage.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not await asyncio.to_thread(Path(CHROMIUM).exists):
        pytest.fail("chromium is not installed (make test installs it)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    return problems


async def test_browse_to_a_log_line(site: str, browser: Browser) -> None:
    page = await browser.new_page()
    problems = _watch(page)
    await page.goto(site)
    await page.click("text=tc >> nth=0")
    assert (await page.title()) == "tc: meetings"
    await page.click("ul.meetings a >> nth=0")
    assert await page.inner_text("h1") == "#tc: tc"
    assert "your time" in await page.inner_text("header")  # the script ran under the CSP
    await page.click("li#i-4 .details a")  # the #agreed item said on line 4
    assert page.url.endswith("#l-4")
    row = await page.inner_text("tr:target")
    assert "#agreed adopt the charter" in row
    body = await page.inner_text("body")
    assert "<script>alert('owned')</script>" in body  # shown as text, never run
    assert problems == []


async def test_search_with_a_filter_lands_on_the_line(site: str, browser: Browser) -> None:
    page = await browser.new_page()
    problems = _watch(page)
    await page.goto(site + "search")
    await page.fill("input[name=q]", "charter")
    await page.select_option("select[name=kind]", "decision")
    await page.click("button[type=submit]")
    hits = page.locator("ol.hits > li")
    assert await hits.count() == 1
    assert await page.inner_text("ol.hits mark") == "charter"
    await page.click("ol.hits .details a")
    assert page.url.endswith("#l-4")
    assert "#agreed adopt the charter" in await page.inner_text("tr:target")
    await page.goto(site + "search?q=%3Cscript%3E")
    assert problems == []
