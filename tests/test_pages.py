"""The published pages read in a real Chromium at a phone's, a tablet's and a desktop's
width: no page scrolls sideways, a log row's time stays on one line, each person's nick
keeps one colour of its own, and dark mode and print have their own styles. Screenshots
of each page at each width are left in build/screenshots/ for people to look at."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from openminutes.chat.base import ChatEvent
from openminutes.importer.run import Importer
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import LineKind
from openminutes.meetings.state import MeetingSettings
from openminutes.plugins import default_registry
from openminutes.publish.publisher import Publisher
from openminutes.storage import Storage
from openminutes.web.app import create_app
from openminutes.web.ratelimit import RateLimiter
from tests.helpers import CORPUS, recording
from tests.test_browser import browser

__all__ = ["browser"]  # the fixture, shared with test_browser.py
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
WIDTHS = (390, 768, 1280)
LONG_URL = "https://example.org/" + "a-very-long-path-segment/" * 12 + "?q=" + "x" * 80


@pytest.fixture
async def pages(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """A meeting of four people with long lines, a long URL and a long nick, published
    and served; the URL of each page type."""
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    publisher = Publisher(storage, tmp_path / "out")
    recorder, task = recording(storage, publisher)
    start = datetime(2025, 6, 1, 18, tzinfo=UTC)
    said = [("chair", "#startmeeting Readable pages"), ("chair", "#topic Layout"),
            ("alice", "a long line " * 40), ("bob", f"#link {LONG_URL}"),
            ("a_rather_long_nick_indeed", "#info " + "words " * 30),
            ("carol", "#action carol and bob to check the phone layout"),
            ("chair", "#agreed " + "agreement " * 20), ("alice", "short"),
            # Hostile: markup, a right-to-left override, a word that never breaks.
            ("mallory", "<script>alert(1)</script> \u202eevil\u202c " + "W" * 300),
            ("mallory\u202e", "#idea " + "x" * 200 + " <b>bold</b>"),
            ("chair", "#endmeeting")]
    for n, (nick, text) in enumerate(said):
        recorder.submit(ChatEvent("net", "#pages", nick, text, LineKind.MESSAGE,
                                  start + timedelta(minutes=n, seconds=7)))
    # Two more of the series, published after it: one later, then one earlier (another
    # year): each publish puts the links of the pages beside it right.
    for when in (datetime(2025, 7, 1, 18, tzinfo=UTC), datetime(2024, 12, 1, 18, tzinfo=UTC)):
        for n, text in enumerate(("#startmeeting Readable pages", "#endmeeting")):
            recorder.submit(ChatEvent("net", "#pages", "chair", text, LineKind.MESSAGE,
                                      when + timedelta(minutes=n)))
        await recorder.drained()
    await recorder.drained()
    task.cancel()
    corpus: list[tuple[str, str]] = []
    if CORPUS.is_dir():  # real meetings MeetBot recorded, imported as a project would
        importer = Importer(storage, Engine(default_registry()), publisher, MeetingSettings())
        await importer.run([CORPUS / "logs"], progress=False)
        for record in await storage.meetings():
            if record.stem and not record.stem.startswith("readable_pages/"):
                corpus += [(f"corpus-{record.id}", f"/{record.stem}.html"),
                           (f"corpus-{record.id}-log", f"/{record.stem}.log.html")]
    server = TestServer(create_app(storage, publisher, RateLimiter(10, 50)))
    await server.start_server()
    stem = "readable_pages/2025/readable_pages.2025-06-01-18.00"
    yield {name: str(server.make_url(path)) for name, path in (
        ("index", "/"), ("series", "/readable_pages/"), ("year", "/years/2025.html"),
        ("month", "/years/2025-06.html"),
        ("minutes", f"/{stem}.html"), ("log", f"/{stem}.log.html"),
        ("decisions", "/readable_pages/decisions.html"), ("search", "/search?q=layout"),
        *corpus)}
    await server.close()
    await storage.close()


async def _fits(page: Page) -> bool:
    return bool(await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


@pytest.mark.parametrize("width", WIDTHS)
async def test_every_page_fits_and_the_log_keeps_its_columns(
        pages: dict[str, str], browser: Browser, width: int) -> None:
    page = await browser.new_page(viewport={"width": width, "height": 800})
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, url in pages.items():
        response = await page.goto(url)
        assert response is not None
        assert response.status == 200, name
        assert await _fits(page), f"{name} scrolls sideways at {width} px"
        await page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    await page.goto(pages["log"])
    # Each time and each nick is one line box, however much its row's text wraps.
    boxes = await page.evaluate("""() => [...document.querySelectorAll('td.time a, td.nick')]
        .map(cell => [...cell.getClientRects()].length)""")
    assert boxes
    assert set(boxes) == {1}, boxes
    times = await page.evaluate("""() => [...document.querySelectorAll('td.time a')].map(
        a => a.getBoundingClientRect().height / parseFloat(getComputedStyle(a).lineHeight))""")
    assert max(times) < 1.6, times
    wrapped = await page.evaluate("""() => Math.max(...[...document.querySelectorAll('td.text')]
        .map(td => td.getBoundingClientRect().height))""")
    assert wrapped > 40  # the long lines wrap beside the columns, not past the page
    await page.close()


async def test_nick_colours_are_stable_and_dark_mode_and_print_have_their_styles(
        pages: dict[str, str], browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(pages["log"])
    colours = await page.evaluate("""() => [...document.querySelectorAll('tr')]
        .filter(tr => !tr.classList.contains('event'))
        .map(tr => [tr.querySelector('td.nick').textContent,
                    getComputedStyle(tr.querySelector('td.nick')).color])""")
    by_nick: dict[str, set[str]] = {}
    for nick, colour in colours:
        by_nick.setdefault(nick, set()).add(colour)
    assert all(len(c) == 1 for c in by_nick.values()), by_nick  # one colour per person
    assert len({next(iter(c)) for c in by_nick.values()}) >= 4  # people told apart
    light = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    await page.emulate_media(color_scheme="dark")
    dark = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light != dark
    assert dark == "rgb(18, 18, 18)"
    await page.emulate_media(media="print", color_scheme="dark")
    printed = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert printed == "rgb(255, 255, 255)"
    await page.close()


AXE = Path(os.environ.get("OPENMINUTES_AXE_DIR", Path.home() / ".cache" / "openminutes" / "axe")
           ) / "node_modules" / "axe-core" / "axe.min.js"


async def test_axe_finds_no_serious_violation_on_any_page(pages: dict[str, str],
                                                          browser: Browser) -> None:
    """axe-core (the npm package tests/install-servers.sh installs) on every page type,
    light and dark: no violation at all, of any impact (landmarks and headings included)."""
    if not await asyncio.to_thread(AXE.exists):
        pytest.fail(f"{AXE} is missing (make test installs it)")
    context = await browser.new_context(bypass_csp=True)  # axe is injected as a script
    page = await context.new_page()
    found: list[str] = []
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for name, url in pages.items():
            await page.goto(url)
            await page.add_script_tag(path=str(AXE))
            result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            assert len(result["passes"]) > 10, name  # the audit ran its rules
            found += [f"{scheme} {name}: {v['id']} ({v['impact']}): {v['help']} "
                      f"{[n['target'] for n in v['nodes']][:3]}"
                      for v in result["violations"]]
    await context.close()
    assert found == []


async def test_served_archive_pages_offer_search_and_static_ones_do_not(
        pages: dict[str, str], browser: Browser, tmp_path: Path) -> None:
    page = await browser.new_page()
    for name in ("index", "series", "year", "month"):
        await page.goto(pages[name])
        assert await page.locator("form.search").count() == 1, name
    await page.goto(pages["index"])
    await page.fill("#site-search", "layout")
    await page.press("#site-search", "Enter")
    await page.wait_for_url("**/search?q=layout")
    assert await page.locator("text=Layout").count() >= 1
    # The same pages as files, without `serve`: no form, only the place for one.
    static = (tmp_path / "out" / "index.html").read_text()
    assert "<form" not in static
    assert "<!-- openminutes:search -->" in static
    await page.close()


async def test_previous_and_next_meeting_links_resolve_after_publishing_out_of_order(
        pages: dict[str, str], browser: Browser) -> None:
    page = await browser.new_page()
    for start, ext in ((pages["minutes"], ".html"), (pages["log"], ".log.html")):
        await page.goto(start)
        await page.click("nav.series a[rel=prev]")
        assert page.url.endswith(f"/2024/readable_pages.2024-12-01-18.00{ext}"), page.url
        assert await page.locator("nav.series a[rel=prev]").count() == 0  # the first
        await page.click("nav.series a[rel=next]")
        assert page.url == start
        await page.click("nav.series a[rel=next]")
        assert page.url.endswith(f"/2025/readable_pages.2025-07-01-18.00{ext}"), page.url
        assert await page.locator("nav.series a[rel=next]").count() == 0  # the latest
        text = await page.locator("nav.series").inner_text()
        assert text == "← Previous meeting of readable_pages: 2025-06-01"
    await page.close()
