"""Publishing a meeting: claim its path, render every output, write them atomically."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from openminutes.meetings.model import Line
from openminutes.meetings.state import ActionItem, Meeting
from openminutes.publish import viewmodel
from openminutes.publish.archive import SCRIPT, ArchiveWriter, local_time_script
from openminutes.publish.files import (
    AtomicFiles,
    files_for,
    inside,
    stem_candidates,
    stem_for,
    write_atomic,
)
from openminutes.publish.fragments import Fragments
from openminutes.publish.render import (
    LOG_OUTPUTS,
    LogOutputs,
    log_chunk,
    new_fragments,
    render_minutes,
    render_page,
)
from openminutes.publish.spool import Spool
from openminutes.storage import LINE_CHUNK, Derived, ItemRecord, MeetingRecord
from openminutes.storage.protocols import ArchiveStore
from openminutes.storage.search import DECISION

DECISION_KINDS = (DECISION,)  # every item that is a decision, whatever its kind
LATEST_DECISIONS = 50  # on a series' decisions.html; each year has its own page
_ITEMS_STEP = 500  # items rendered ahead at a time


def _decisions_file(series: str, year: int, extension: str) -> str:
    return f"{series}/decisions-{year}.{extension}"


def _json_lines(records: list[dict[str, object]]) -> str:
    """A JSON array with one record per line, so that arrays can be joined as text."""
    if not records:
        return "[]\n"
    body = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    return f"[\n{body}\n]\n"


def _join_json_lines(arrays: list[str]) -> str:
    """One array of the records of several `_json_lines` arrays, in order."""
    bodies = [a.strip()[1:-1].strip("\n") for a in arrays]
    return _json_lines([]) if not any(bodies) else "[\n" + ",\n".join(
        b for b in bodies if b) + "\n]\n"


# The series links of a meeting's pages (templates/series_nav.html.j2): titles inside
# are escaped, so the element ends at the first </nav>.
_SERIES_NAV = re.compile(r'<nav class="series"[^>]*>.*?</nav>', re.DOTALL)


def _neighbour(record: MeetingRecord | None) -> viewmodel.Neighbour | None:
    if record is None or not record.stem:
        return None
    return viewmodel.Neighbour(record.stem, record.started_at, record.title)


def derived_of(meeting: Meeting, actions: list[ActionItem] | None = None) -> Derived:
    """What storage keeps of a replayed meeting besides its lines (`actions`: the
    meeting's action items when the caller has already worked them out)."""
    found = meeting.actions() if actions is None else actions
    return Derived(meeting.name, meeting.title, meeting.founder, meeting.ended_at,
                   list(meeting.items), {a.item.line: a.owners for a in found},
                   meeting.series)


@dataclass(frozen=True, slots=True)
class SeriesDecision:
    record: ItemRecord
    link: str  # relative to the series folder


@dataclass(frozen=True, slots=True)
class Published:
    files: dict[str, Path]  # output -> absolute path
    urls: dict[str, str]  # output -> URL (or path when no base URL is set)


class Publisher:
    """Turns a replayed meeting into its files (through the templates, written
    atomically, the log streamed from storage), stores what replay derived, and keeps the
    series' decision register and the archive pages up to date. Never says anything in a
    room; failures are raised to the caller, which retries."""

    def __init__(self, storage: ArchiveStore, root: Path, base_url: str = "") -> None:
        self.storage = storage
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._fragments: dict[int, Fragments] = {}  # open meetings only
        self._spools: dict[int, Spool] = {}  # open meetings only
        self.archive = ArchiveWriter(storage, root, base_url)

    def _fragments_of(self, meeting_id: int) -> Fragments:
        if meeting_id not in self._fragments:
            self._fragments[meeting_id] = new_fragments()
        return self._fragments[meeting_id]

    async def warm(self, meeting_id: int, meeting: Meeting) -> bool:
        """Render ahead, off the event loop, the items and the next lines of the log (to
        a spool on disk), so that publishing has little left to do. True while there is
        more to do."""
        if meeting.started_at is None or meeting.ended:  # ended: published, or about to be
            return False
        log_name = PurePosixPath(files_for(stem_for(meeting.name, meeting.started_at))
                                 ["log_html"]).name
        fragments = self._fragments_of(meeting_id)
        # A snapshot (the meeting goes on changing meanwhile), a step at a time, so that
        # a line arriving stops the warming soon.
        items = fragments.unwarmed(list(meeting.items), log_name)[:_ITEMS_STEP]
        if items:
            await asyncio.to_thread(fragments.warm, items, log_name)
            return True
        spool = self._spools.setdefault(meeting_id, Spool())
        async with spool.lock:  # a publish meanwhile waits, and then reads it whole
            spool.check(meeting)
            seen = len(meeting.corrected)  # before reading: later ones are checked later
            lines = await self.storage.lines(meeting_id, after=spool.upto,
                                             upto=meeting.last_seq, limit=LINE_CHUNK)
            if not lines:
                return False
            shown = [meeting.as_shown(line) for line in lines]
            first = not spool.upto

            def render() -> None:
                spool.append(log_chunk(shown, first=first), lines[-1].seq, seen)

            await asyncio.to_thread(render)
        return True

    def _url(self, relative: str) -> str:
        return f"{self.base_url}/{relative}" if self.base_url else str(self.root / relative)

    def line_url(self, stem: str | None, line: int) -> str:
        """Where readers find a line of a meeting's log ("" before it is published)."""
        return f"{self._url(files_for(stem)['log_html'])}#l-{line}" if stem else ""

    async def save_derived(self, meeting_id: int, meeting: Meeting) -> None:
        """Store what replay derived (items, name, search scope) without writing files:
        for a meeting whose files could not be written yet."""
        await self.storage.save_meeting(meeting_id, derived_of(meeting))

    async def claim(self, meeting_id: int, name: str, started_at: datetime) -> str:
        """The meeting's output path, for good: its own if it has one, else the first
        free one for its name and start."""
        return await self.storage.claim_stem(meeting_id, (
            s for s in stem_candidates(stem_for(name, started_at))
            if not self._taken_on_disk(s)))

    async def publish(self, meeting_id: int, meeting: Meeting, *, series_page: bool = True,
                      relink: bool = True,
                      on_files: Callable[[Published], Awaitable[None]] | None = None
                      ) -> Published:
        """Write all outputs (off the event loop), then store what replay derived.

        The files come first: if the bot dies in between, the stored lines still say the
        meeting ended, and resuming finishes the job. `on_files` is awaited as soon as the
        meeting's own files are on disk (its URLs work), before what links to them: the
        neighbours, the decision register, the archive pages. `relink` False: the
        neighbours' pages are left as they are (a rebuild writes each page whole, with
        every output path claimed first)."""
        assert meeting.started_at is not None
        base = stem_for(meeting.name, meeting.started_at)
        stem = await self.claim(meeting_id, meeting.name, meeting.started_at)
        if not (stem == base or stem.startswith(f"{base}-")):
            # Renamed with #meetingname after an earlier #save: move to the new name.
            old = stem
            stem = await self.storage.reclaim_stem(
                meeting_id, (s for s in stem_candidates(base) if not self._taken_on_disk(s))
            )
            await asyncio.to_thread(self.remove, old)
        files = files_for(stem)
        view = viewmodel.build(meeting, meeting_id, files,
                               {k: self._url(v) for k, v in files.items()})
        view.previous = await self.previous_actions(meeting_id, meeting)
        earlier, later = await self.storage.neighbours(meeting.name, meeting.started_at,
                                                       meeting_id)
        view.earlier, view.later = _neighbour(earlier), _neighbour(later)
        fragments = self._fragments_of(meeting_id)
        spool = self._spools.get(meeting_id)
        if meeting.ended:
            del self._fragments[meeting_id]
            self._spools.pop(meeting_id, None)
        await asyncio.to_thread(self._write_minutes, view, fragments)
        if spool is None:
            await self._write_log(meeting_id, meeting, view, None)
        else:
            async with spool.lock:
                try:
                    await self._write_log(meeting_id, meeting, view, spool)
                finally:
                    if meeting.ended:
                        spool.close()
        published = Published({k: inside(self.root, v) for k, v in files.items()}, view.urls)
        if on_files is not None:
            await on_files(published)
        await self.storage.save_meeting(meeting_id, derived_of(meeting, view.actions))
        if meeting.ended and relink:
            # Published between two others (or after the last): their links change.
            for record in (earlier, later):
                if record is not None:
                    await self._relink(record)
        if series_page:  # a bulk import writes each series' pages once, at the end
            last = meeting.last_time or meeting.started_at
            await self.write_decisions(meeting.name,
                                       range(meeting.started_at.year, last.year + 1))
            if meeting.ended:
                await self.archive.update(
                    [meeting.name], [(meeting.started_at.year, meeting.started_at.month)])
        return published

    async def previous_actions(self, meeting_id: int,
                               meeting: Meeting) -> viewmodel.PreviousMeeting | None:
        """The action items of the series' previous meeting, if it had any."""
        if meeting.started_at is None:
            return None
        previous = await self.storage.previous_meeting(meeting.name, meeting.started_at,
                                                       exclude=meeting_id)
        if previous is None:
            return None
        actions = await self.storage.items(("action",), meeting_id=previous.id)
        if not actions:
            return None
        minutes = self._url(files_for(previous.stem)["html"]) if previous.stem else ""
        return viewmodel.PreviousMeeting(
            previous.id, previous.started_at, minutes,
            [(a.text, a.owners) for a in reversed(actions)],
        )

    async def write_decisions(self, series: str, years: Iterable[int] | None = None) -> None:
        """The series' decision register, newest first: a page per year
        ({name}/decisions-YYYY.html and .json), {name}/decisions.html (the years, and the
        latest decisions) and {name}/decisions.json (every decision).

        `years`: the years a publish touched (None: every year). Only those are rendered
        again, so publishing costs the same in a series of any age; the whole-register
        JSON is joined from the years' files, not rendered again."""
        counts = await self.storage.items_per_year(DECISION_KINDS, name=series)
        known = [year for year, _ in counts]
        wanted = set(known if years is None else years)
        # Years never written (an archive published before registers were split).
        wanted.update(y for y in known if not self._exists(_decisions_file(series, y, "json")))
        files: dict[str, str] = {}
        for year in sorted(wanted, reverse=True):
            records = await self.storage.items(DECISION_KINDS, name=series,
                                               since=datetime(year, 1, 1, tzinfo=UTC),
                                               until=datetime(year + 1, 1, 1, tzinfo=UTC))
            files[_decisions_file(series, year, "html")] = render_page(
                "decisions.html.j2", series=series, year=year, years=[],
                decisions=[SeriesDecision(r, self._decision_link(series, r)) for r in records])
            files[_decisions_file(series, year, "json")] = _json_lines(
                [self._decision_data(r) for r in records])
        latest = await self.storage.items(DECISION_KINDS, name=series, limit=LATEST_DECISIONS)
        files[f"{series}/decisions.html"] = render_page(
            "decisions.html.j2", series=series, year=None, years=counts,
            decisions=[SeriesDecision(r, self._decision_link(series, r)) for r in latest])
        await asyncio.to_thread(self._write_register, series, known, files)

    def _write_register(self, series: str, years: list[int], files: dict[str, str]) -> None:
        paths = [_decisions_file(series, year, "json") for year in years]
        files[f"{series}/decisions.json"] = _join_json_lines(
            [files[path] if path in files else self._read(path) for path in paths])
        self._write_files(files)

    def _decision_link(self, series: str, record: ItemRecord) -> str:
        """A decision's log line, relative to the series folder."""
        if not record.meeting.stem:
            return ""
        return (f"{PurePosixPath(record.meeting.stem).relative_to(series)}"
                f".log.html#l-{record.line}")

    def _decision_data(self, r: ItemRecord) -> dict[str, object]:
        return {"time": viewmodel.iso(r.time), "channel": r.meeting.channel,
                "meeting_id": r.meeting.id, "kind": r.kind, "text": r.text, "nick": r.nick,
                "line": r.line, "url": self.line_url(r.meeting.stem, r.line)}

    def _exists(self, relative: str) -> bool:
        return inside(self.root, relative).exists()

    def _read(self, relative: str) -> str:
        return inside(self.root, relative).read_text(encoding="utf-8")

    def _write_files(self, contents: dict[str, str]) -> None:
        for relative, content in contents.items():  # rebuilt from storage: no fsync
            write_atomic(inside(self.root, relative), content, durable=False)

    async def _relink(self, record: MeetingRecord) -> None:
        """Rewrite the series links of a published meeting's pages (its nav element only:
        the rest of the page, its log above all, stays as written)."""
        assert record.stem is not None
        earlier, later = await self.storage.neighbours(record.name, record.started_at,
                                                       record.id)
        files = files_for(record.stem)
        navs = {key: render_page("series_nav_only.html.j2", earlier=_neighbour(earlier),
                                 later=_neighbour(later), stem=record.stem, ext=ext,
                                 name=record.name).strip()
                for key, ext in (("html", "html"), ("log_html", "log.html"))}
        await asyncio.to_thread(self._replace_navs, files, navs)

    def _replace_navs(self, files: dict[str, str], navs: dict[str, str]) -> None:
        for key, nav in navs.items():
            path = inside(self.root, files[key])
            try:
                page = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            found = _SERIES_NAV.search(page)
            if found is None:  # published before pages linked their neighbours
                continue
            changed = page[:found.start()] + nav + page[found.end():]
            if changed != page:
                write_atomic(path, changed, durable=False)

    def _taken_on_disk(self, stem: str) -> bool:
        return self._exists(f"{stem}.json")

    def remove(self, stem: str) -> None:
        for relative in files_for(stem).values():
            inside(self.root, relative).unlink(missing_ok=True)

    def _write_minutes(self, view: viewmodel.MinutesView, fragments: Fragments) -> None:
        script = inside(self.root, SCRIPT)
        if not script.exists():  # the pages load it; the archive pages come later
            write_atomic(script, local_time_script())
        for key, content in render_minutes(view, fragments).items():
            write_atomic(inside(self.root, view.files[key]), content)

    async def _write_log(self, meeting_id: int, meeting: Meeting,
                         view: viewmodel.MinutesView, spool: Spool | None) -> None:
        """The outputs holding the log: what the spool holds, then the lines since,
        streamed from storage a chunk at a time, so a meeting of any length is published
        in the same memory."""
        paths = {key: inside(self.root, view.files[key]) for key in LOG_OUTPUTS}
        pieces = await asyncio.to_thread(LogOutputs, view)
        if spool is not None:
            spool.check(meeting)
        after = spool.upto if spool is not None else 0

        def start() -> None:
            out.write(pieces.head())
            if spool is not None and after:
                for key in LOG_OUTPUTS:
                    out.copy(key, spool.read(key))

        def add(lines: list[Line], first: bool) -> None:
            out.write(log_chunk(lines, first=first))

        def finish() -> None:
            out.write(pieces.tail())
            out.commit()

        chunks = self.storage.iter_lines(meeting_id, after=after, upto=meeting.last_seq)
        with await asyncio.to_thread(AtomicFiles, paths) as out:
            await asyncio.to_thread(start)
            first = not after
            # The next chunk is read while this one is rendered.
            following = asyncio.ensure_future(anext(chunks, None))
            try:
                while (lines := await following) is not None:
                    following = asyncio.ensure_future(anext(chunks, None))
                    await asyncio.to_thread(add, [meeting.as_shown(ln) for ln in lines], first)
                    first = False
            finally:
                following.cancel()
            await asyncio.to_thread(finish)
