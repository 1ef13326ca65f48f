"""Importing files: one transaction per file, replayed through the same engine as a live
meeting, published like one. Importing the same file twice changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from openminutes.importer.reading import (
    FileResult,
    Found,
    Reading,
    UnreadableLogError,
    is_html,
    read_hcoop_json,
    read_text_log,
)
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import ItemKind
from openminutes.meetings.state import MeetingSettings
from openminutes.publish.publisher import Publisher, derived_of
from openminutes.storage import Derived, Storage
from openminutes.storage.records import ImportedFile, MeetingRef

# Inside a folder these are logs; MeetBot's minutes (.txt, .html) beside them are not.
_LOG_SUFFIXES = (".log.txt", ".log.json", ".log")


@dataclass
class Summary:
    files: int = 0
    meetings: int = 0
    lines: int = 0
    decisions: int = 0
    actions: int = 0
    unchanged: int = 0
    unended: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[tuple[Path, int, str]] = field(default_factory=list)
    seconds: float = 0.0


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to import (sorted, folders walked) and files passed over, with why."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                if found.name.endswith(_LOG_SUFFIXES):
                    files.append(found)
        elif path.is_file():
            if is_html(path):
                skipped.append((path, "HTML is not imported; import the .log.txt beside it"))
            else:
                files.append(path)
        else:
            skipped.append((path, "no such file or folder"))
    return files, skipped


class Progress:
    """One self-updating line on a terminal: files and lines per second."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self._shown = 0.0

    def update(self, summary: Summary, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self._shown < 0.2):
            return
        self._shown = now
        elapsed = max(now - self.started, 1e-9)
        sys.stderr.write(f"\rimporting: {done}/{self.total} files, {summary.lines:,} lines, "
                         f"{done / elapsed:.1f} files/s, {summary.lines / elapsed:,.0f} lines/s ")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


@dataclass
class _Read:
    path: Path
    key: str  # the resolved path, as stored
    digest: str
    result: FileResult | None = None
    derived: list[Derived] = field(default_factory=list)
    error: str | None = None


def _batches(files: list[Path], size: int = 200) -> Iterable[list[Path]]:
    """Files stored per transaction: each meeting is whole or absent either way, and
    fewer commits make a large archive import several times faster."""
    for start in range(0, len(files), size):
        yield files[start:start + size]


class Importer:
    def __init__(self, storage: Storage, engine: Engine, publisher: Publisher,
                 settings: MeetingSettings, *, network: str = "irc", day: date | None = None,
                 channel: str | None = None, render: bool = True) -> None:
        self.storage = storage
        self.engine = engine
        self.publisher = publisher
        self.settings = settings
        self.network = network
        self.day = day
        self.channel = channel
        self.render = render
        self._series: set[str] = set()
        self._months: set[tuple[int, int]] = set()

    async def run(self, paths: Iterable[Path], *, progress: bool = True) -> Summary:
        started = time.monotonic()
        files, skipped = await asyncio.to_thread(discover, list(paths))
        summary = Summary(skipped=skipped)
        bar = Progress(len(files), progress)
        done = 0
        batches = list(_batches(files))
        # While one batch is written, the next is read and parsed in a worker thread.
        upcoming = asyncio.create_task(asyncio.to_thread(self._read_all, batches[0])) \
            if batches else None
        for index, batch in enumerate(batches):
            assert upcoming is not None
            reads = await upcoming
            if index + 1 < len(batches):
                upcoming = asyncio.create_task(
                    asyncio.to_thread(self._read_all, batches[index + 1]))
            await self._import_batch(reads, summary)
            done += len(batch)
            bar.update(summary, done)
        if self.render:
            for series in sorted(self._series):
                await self.publisher.write_decisions(series)
            if self._series:
                await self.publisher.archive.update(sorted(self._series), self._months)
        if summary.meetings:
            await self.storage.analyze()
        bar.update(summary, len(files), final=True)
        summary.seconds = time.monotonic() - started
        return summary

    def _read_all(self, paths: list[Path]) -> list[_Read]:
        """Read and parse a batch of files in one trip to a worker thread."""
        how = Reading(self.engine, self.settings, self.network, self.day, self.channel)
        results: list[_Read] = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                results.append(_Read(path, "", "", error=f"cannot read: {exc.strerror}"))
                continue
            read = _Read(path, str(path.resolve()), hashlib.sha256(data).hexdigest())
            try:
                reader = read_hcoop_json if path.name.endswith(".json") else read_text_log
                read.result = reader(data, path, how)
                read.derived = [derived_of(found.meeting) for found in read.result.meetings]
            except UnreadableLogError as exc:
                read.error = str(exc)
            results.append(read)
        return results

    async def _import_batch(self, reads: list[_Read], summary: Summary) -> None:
        summary.files += len(reads)
        known = await self.storage.sources([r.key for r in reads if r.key])
        todo: list[tuple[_Read, FileResult]] = []
        for read in reads:
            before = known.get(read.key)
            if before is not None and before[0] == read.digest:
                summary.unchanged += 1  # checked before any error: nothing changed
            elif read.error is not None or read.result is None:
                summary.failed.append((read.path, read.error or "unreadable"))
            else:
                if before is not None:
                    await self._unpublish(before[1])
                todo.append((read, read.result))
        if not todo:
            return
        files = [
            ImportedFile(read.key, read.digest, [
                (MeetingRef(self.network, found.channel, found.lines[0].time), found.lines,
                 derived)
                for found, derived in zip(result.meetings, read.derived, strict=True)
            ])
            for read, result in todo
        ]
        stored = await self.storage.replace_imported(files)
        for (read, result), ids in zip(todo, stored, strict=True):
            summary.warnings.extend((read.path, n, text) for n, text in result.problems)
            for found, meeting_id in zip(result.meetings, ids, strict=True):
                await self._account(read.path, found, meeting_id, summary)

    async def _account(self, path: Path, found: Found, meeting_id: int,
                       summary: Summary) -> None:
        meeting = found.meeting  # the engine's state from exactly the stored lines
        if self.render:
            await self.publisher.publish(meeting_id, meeting, series_page=False)
            self._series.add(meeting.name)
            if meeting.started_at is not None:
                self._months.add((meeting.started_at.year, meeting.started_at.month))
        summary.meetings += 1
        summary.lines += len(found.lines)
        summary.decisions += sum(i.kind.is_decision for i in meeting.items)
        summary.actions += sum(i.kind == ItemKind.ACTION for i in meeting.items)
        if found.unended:
            summary.unended.append(path)

    async def _unpublish(self, meeting_ids: list[int]) -> None:
        """A changed file is imported again in place: its old outputs go first."""
        for meeting_id in meeting_ids:
            record = await self.storage.meeting(meeting_id)
            if record is not None and record.stem:
                await asyncio.to_thread(self.publisher.remove, record.stem)
