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

from importer.reading import (
    FileResult,
    UnreadableLogError,
    is_html,
    read_hcoop_json,
    read_text_log,
)
from meetings.engine import Engine
from meetings.model import ItemKind
from meetings.state import Meeting, MeetingSettings
from publish.publisher import Publisher
from storage import Storage
from storage.repository import MeetingRef

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

    async def run(self, paths: Iterable[Path], *, progress: bool = True) -> Summary:
        started = time.monotonic()
        files, skipped = await asyncio.to_thread(discover, list(paths))
        summary = Summary(skipped=skipped)
        bar = Progress(len(files), progress)
        for done, path in enumerate(files, 1):
            await self.import_file(path, summary)
            bar.update(summary, done)
        if self.render:
            for series in sorted(self._series):
                await self.publisher.write_decisions(series)
        bar.update(summary, len(files), final=True)
        summary.seconds = time.monotonic() - started
        return summary

    def _read(self, data: bytes, path: Path) -> FileResult:
        if path.name.endswith(".json"):
            return read_hcoop_json(data, path, self.engine, channel=self.channel)
        return read_text_log(data, path, self.engine, day=self.day, channel=self.channel)

    async def import_file(self, path: Path, summary: Summary) -> None:
        summary.files += 1
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            summary.failed.append((path, f"cannot read: {exc.strerror}"))
            return
        key = str(await asyncio.to_thread(path.resolve))
        digest = hashlib.sha256(data).hexdigest()
        before = await self.storage.source(key)
        if before is not None and before[0] == digest:
            summary.unchanged += 1
            return
        try:
            result = self._read(data, path)
        except UnreadableLogError as exc:
            summary.failed.append((path, str(exc)))
            return
        summary.warnings.extend((path, n, text) for n, text in result.problems)
        if before is not None:
            await self._unpublish(before[1])
        refs = [(MeetingRef(self.network, found.channel, found.lines[0].time), found.lines)
                for found in result.meetings]
        await self.storage.replace_imported(key, digest, refs)
        for (ref, lines), found in zip(refs, result.meetings, strict=True):
            assert ref.id is not None
            meeting = self.engine.replay(Meeting(self.network, found.channel, self.settings),
                                         lines)
            if self.render:
                await self.publisher.publish(ref.id, meeting, series_page=False)
                self._series.add(meeting.name)
            else:
                await self.publisher.save_record(ref.id, meeting)
            summary.meetings += 1
            summary.lines += len(lines)
            summary.decisions += sum(i.kind.is_decision for i in meeting.items)
            summary.actions += sum(i.kind is ItemKind.ACTION for i in meeting.items)
            if found.unended:
                summary.unended.append(path)

    async def _unpublish(self, meeting_ids: list[int]) -> None:
        """A changed file is imported again in place: its old outputs go first."""
        for meeting_id in meeting_ids:
            stored = await self.storage.meeting(meeting_id)
            if stored is not None and stored.record.stem:
                await asyncio.to_thread(self.publisher.remove, stored.record.stem)
