"""The browsable archive around the minutes: an index, a page per series (by year), per
year (its months) and per month, a `latest` page per series and Atom feeds. Updated when a
meeting is published; each update reads only the meeting's series, its month, its year's
month counts and the newest meetings, so its cost does not grow with the age of the
archive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path, PurePosixPath

from openminutes.publish.files import inside, write_atomic
from openminutes.publish.render import TEMPLATES, render_page
from openminutes.publish.viewmodel import iso
from openminutes.storage import AmendmentRecord, ItemRecord, MeetingRecord
from openminutes.storage.protocols import ArchiveStore
from openminutes.storage.search import DECISION

RECENT = 30  # meetings on the index page and in each feed
SCRIPT = "static/localtime.js"  # every page loads it, relative to the publish dir


@dataclass(frozen=True, slots=True)
class FeedEntry:
    meeting: MeetingRecord
    url: str
    decisions: list[ItemRecord]
    actions: list[ItemRecord]


@dataclass(frozen=True, slots=True)
class AmendmentEntry:
    record: AmendmentRecord
    url: str  # the amendment in its meeting's minutes


class ArchiveWriter:
    def __init__(self, storage: ArchiveStore, root: Path, base_url: str) -> None:
        self.storage = storage
        self.root = root
        self.base_url = base_url.rstrip("/")

    def _absolute(self, relative: str) -> str:
        return f"{self.base_url}/{relative}" if self.base_url else relative

    async def update(self, series: Iterable[str], months: Iterable[tuple[int, int]]) -> None:
        """Rewrite the pages a newly published meeting of these series and (year, month)s
        touches."""
        months = sorted(set(months))
        pages: dict[str, str] = {SCRIPT: local_time_script()}
        recent = await self.storage.published(limit=RECENT)
        all_series = await self.storage.series()
        years_known = await self.storage.years()
        pages["index.html"] = render_page(
            "archive_index.html.j2", series=all_series, recent=recent, years=years_known,
            root="", feed="feed.atom")
        pages["feed.atom"] = await self._feed("Meetings", "feed.atom", recent)
        for name in series:
            meetings = await self.storage.published(name=name)
            if not meetings:
                continue
            by_year = [(year, list(group)) for year, group
                       in groupby(meetings, key=lambda m: m.started_at.year)]
            pages[f"{name}/index.html"] = render_page(
                "archive_series.html.j2", name=name, by_year=by_year, root="../",
                feed="feed.atom", calendar=(self.root / name / "schedule.ics").exists())
            pages[f"{name}/latest.html"] = render_page(
                "archive_latest.html.j2", name=name, target=f"../{meetings[0].stem}.html")
            pages[f"{name}/feed.atom"] = await self._feed(
                f"Meetings: {name}", f"{name}/feed.atom", meetings[:RECENT])
            pages[f"{name}/amendments.atom"] = await self._amendments_feed(name)
        for year, month in months:
            meetings = await self.storage.published(since=_month_start(year, month),
                                                    until=_month_start(year, month + 1))
            pages[month_page(year, month)] = render_page(
                "archive_month.html.j2", year=year, month=_month_start(year, month),
                meetings=meetings, root="../", feed="../feed.atom")
        for year in sorted({year for year, _ in months}):
            counts = await self.storage.published_per_month(year)
            pages[f"years/{year}.html"] = render_page(
                "archive_year.html.j2", year=year,
                months=[(_month_start(year, m), PurePosixPath(month_page(year, m)).name, n)
                        for m, n in counts],
                root="../", feed="../feed.atom")
        await asyncio.to_thread(self._write, pages)

    async def _feed(self, title: str, path: str, meetings: list[MeetingRecord]) -> str:
        ids = [m.id for m in meetings]
        items = await self.storage.items([DECISION, "action"],
                                         meeting_ids=ids) if ids else []
        entries = [
            FeedEntry(m, self._absolute(f"{m.stem}.html"),
                      [i for i in reversed(items) if i.meeting.id == m.id and i.kind != "action"],
                      [i for i in reversed(items) if i.meeting.id == m.id and i.kind == "action"])
            for m in meetings
        ]
        updated = max((m.ended_at for m in meetings if m.ended_at), default=None)
        return render_page("feed.atom.j2", title=title, entries=entries,
                           feed_id=f"urn:openminutes:feed:{path}",
                           self_url=self._absolute(path),
                           updated=iso(updated or datetime(1970, 1, 1, tzinfo=UTC)))

    async def _amendments_feed(self, name: str) -> str:
        """The series' amendments, newest first: the public audit trail of its record."""
        path = f"{name}/amendments.atom"
        records = list(reversed(await self.storage.amendments(name=name, limit=RECENT)))
        entries = [AmendmentEntry(r, self._absolute(
            f"{r.meeting.stem}.html#amendment-{r.amendment.id}")) for r in records]
        updated = records[0].amendment.at if records else datetime(1970, 1, 1, tzinfo=UTC)
        return render_page("amendments.atom.j2", title=f"Amendments: {name}",
                           entries=entries, feed_id=f"urn:openminutes:feed:{path}",
                           self_url=self._absolute(path), updated=iso(updated))

    def _write(self, pages: dict[str, str]) -> None:
        """Every page that can be written is, though one fails (its folder taken by a
        file, say); then the failures are raised together."""
        failed: list[str] = []
        for relative, content in pages.items():
            try:
                write_atomic(inside(self.root, relative), content, durable=False)
            except (OSError, ValueError) as exc:
                failed.append(f"{relative}: {exc}")
        if failed:
            raise ArchiveWriteError(failed)


class ArchiveWriteError(OSError):
    """Some archive pages could not be written; the others were."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"{len(failed)} archive page(s) not written: {'; '.join(failed[:5])}")
        self.failed = failed


def month_page(year: int, month: int) -> str:
    return f"years/{year}-{month:02d}.html"


def _month_start(year: int, month: int) -> datetime:
    """The first instant of a month (month 13: January of the next year)."""
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def local_time_script() -> str:
    return (TEMPLATES / "static" / "localtime.js").read_text(encoding="utf-8")
