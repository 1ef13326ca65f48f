"""The static archive: index, series and year pages, latest, feeds; updated incrementally."""

from __future__ import annotations

import asyncio
import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import LineKind
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from tests.helpers import recording

ATOM = "{http://www.w3.org/2005/Atom}"


async def _hold(recorder: Recorder, start: datetime, channel: str, name: str,
                body: list[str]) -> None:
    texts = [f"#startmeeting {name}", *body, "#endmeeting"]
    for n, text in enumerate(texts):
        recorder.submit(ChatEvent("net", channel, "chair", text, LineKind.MESSAGE,
                                  start + timedelta(minutes=n)))
    await recorder.drained()


async def _archive(tmp: Path) -> tuple[Storage, Recorder, asyncio.Task[None]]:
    storage = await Storage.open(f"sqlite:///{tmp / 'db.sqlite'}")
    recorder, task = recording(storage, Publisher(storage, tmp / "out", "https://m.example.org"))
    return storage, recorder, task


def _links(page: Path) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', page.read_text())
            if not h.startswith(("http", "#"))]


async def test_pages_link_to_what_exists_and_feeds_parse(tmp_path: Path) -> None:
    storage, recorder, task = await _archive(tmp_path)
    await _hold(recorder, datetime(2025, 12, 30, 18, tzinfo=UTC), "#tc", "tc",
                ["#agreed adopt <script>alert(1)</script>", "#action chair to ship"])
    await _hold(recorder, datetime(2026, 1, 6, 18, tzinfo=UTC), "#tc", "tc", ["#info hi"])
    await _hold(recorder, datetime(2026, 1, 7, 9, tzinfo=UTC), "#docs", "docs",
                ["#meetingtopic <img src=x onerror=alert(1)>", "#rejected the wiki"])
    task.cancel()
    out = tmp_path / "out"
    pages = [out / "index.html", out / "tc" / "index.html", out / "docs" / "index.html",
             out / "years" / "2026.html", out / "years" / "2025.html",
             out / "years" / "2026-01.html", out / "years" / "2025-12.html"]
    for page in pages:
        for link in _links(page):
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.exists(), f"{page}: {link}"
    index = (out / "index.html").read_text()
    assert index.index("docs") < index.index(">tc<")  # series listed by name
    series = (out / "tc" / "index.html").read_text()
    assert series.index('id="y2026"') < series.index('id="y2025"')  # newest year first
    latest = (out / "tc" / "latest.html").read_text()
    assert 'url=../tc/2026/tc.2026-01-06-18.00.html"' in latest
    assert "&lt;img src=x onerror=alert(1)&gt;" in index
    assert "<img" not in index
    year = (out / "years" / "2026.html").read_text()
    assert '<a href="2026-01.html">January 2026</a> <span class="details">(2 meetings)' in year
    assert "December" not in year
    month = (out / "years" / "2026-01.html").read_text()
    assert "tc.2026-01-06" in month
    assert "docs.2026-01-07" in month
    assert "2025-12-30" not in month

    feed = ET.parse(out / "feed.atom").getroot()
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    first_links = [e.find(f"{ATOM}link").get("href") for e in entries]  # type: ignore[union-attr]
    assert first_links[0] == "https://m.example.org/docs/2026/docs.2026-01-07-09.00.html"
    tc_feed = ET.parse(out / "tc" / "feed.atom").getroot()
    summaries = [e.findtext(f"{ATOM}summary") or "" for e in tc_feed.findall(f"{ATOM}entry")]
    assert "AGREED: adopt <script>alert(1)</script>" in summaries[1]  # text, escaped in XML
    assert "ACTION: chair to ship (chair)" in summaries[1]
    raw = (out / "tc" / "feed.atom").read_text()
    assert "<script>" not in raw
    assert (out / "static" / "localtime.js").exists()
    await storage.close()


async def test_publishing_touches_only_its_series_year_and_the_index(tmp_path: Path) -> None:
    storage, recorder, task = await _archive(tmp_path)
    await _hold(recorder, datetime(2024, 3, 1, tzinfo=UTC), "#a", "alpha", ["#info a"])
    await _hold(recorder, datetime(2025, 3, 1, tzinfo=UTC), "#b", "beta", ["#info b"])
    out = tmp_path / "out"
    untouched = [out / "alpha" / "index.html", out / "alpha" / "feed.atom",
                 out / "years" / "2024.html", out / "years" / "2024-03.html",
                 out / "years" / "2025-03.html"]
    old = 1_000_000_000
    for page in untouched:
        os.utime(page, (old, old))
    await _hold(recorder, datetime(2025, 4, 1, tzinfo=UTC), "#b", "beta", ["#info again"])
    task.cancel()
    assert all(page.stat().st_mtime == old for page in untouched)
    assert "beta.2025-04-01" in (out / "beta" / "index.html").read_text()
    assert "beta.2025-04-01" in (out / "index.html").read_text()
    await storage.close()


async def test_decision_register_is_split_by_year_and_only_the_touched_year_rewritten(
        tmp_path: Path) -> None:
    storage, recorder, task = await _archive(tmp_path)
    await _hold(recorder, datetime(2024, 3, 1, tzinfo=UTC), "#tc", "tc",
                ["#agreed first <b>2024</b>", "#rejected second 2024"])
    await _hold(recorder, datetime(2025, 12, 31, 23, 58, tzinfo=UTC), "#tc", "tc",
                ["#agreed late 2025", "#agreed early 2026"])  # crosses midnight
    out = tmp_path / "out" / "tc"
    old = 1_000_000_000
    os.utime(out / "decisions-2024.html", (old, old))
    os.utime(out / "decisions-2024.json", (old, old))
    (out / "decisions-2025.json").unlink()  # as in an archive published before the split
    await _hold(recorder, datetime(2026, 5, 1, tzinfo=UTC), "#tc", "tc", ["#agreed May 2026"])
    task.cancel()
    # Only the touched year (and a missing one) was written again.
    assert (out / "decisions-2024.html").stat().st_mtime == old
    assert (out / "decisions-2024.json").stat().st_mtime == old
    register = json.loads((out / "decisions.json").read_text())
    assert [d["text"] for d in register] == ["May 2026", "early 2026", "late 2025",
                                             "second 2024", "first <b>2024</b>"]
    assert register[0]["url"].startswith("https://m.example.org/tc/2026/")
    assert [d["text"] for d in json.loads((out / "decisions-2025.json").read_text())] == [
        "late 2025"]
    index = (out / "decisions.html").read_text()  # the latest decisions, of every year
    latest = re.findall(r"</span> ([^<]+) <span", index)
    assert latest == ["May 2026", "early 2026", "late 2025", "second 2024",
                      "first &lt;b&gt;2024&lt;/b&gt;"]
    for year, count in (("2026", 2), ("2025", 1), ("2024", 2)):
        assert f'href="decisions-{year}.html">{year}</a> ({count})' in index
    older = (out / "decisions-2024.html").read_text()
    assert "first &lt;b&gt;2024&lt;/b&gt;" in older
    assert "<b>2024" not in older
    for link in _links(out / "decisions-2024.html") + _links(out / "decisions.html"):
        assert (out / link.split("#")[0]).resolve().exists(), link
    await storage.close()


async def test_index_lists_every_year_with_meetings(tmp_path: Path) -> None:
    storage, recorder, task = await _archive(tmp_path)
    for year in (2024, 2025, 2026):  # one series; 2025 is neither its first nor its last year
        await _hold(recorder, datetime(year, 3, 1, tzinfo=UTC), "#a", "alpha", ["#info x"])
    task.cancel()
    index = (tmp_path / "out" / "index.html").read_text()
    for year in (2024, 2025, 2026):
        assert f'href="years/{year}.html"' in index
        assert (tmp_path / "out" / "years" / f"{year}.html").exists()
    await storage.close()
