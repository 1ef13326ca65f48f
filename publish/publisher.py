"""Publishing a meeting: claim its path, render every output, write them atomically."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from meetings.model import DECISIONS
from meetings.state import ActionItem, Meeting
from publish import viewmodel
from publish.archive import SCRIPT, ArchiveWriter, local_time_script
from publish.files import files_for, inside, stem_candidates, stem_for, write_atomic
from publish.fragments import Fragments
from publish.render import new_fragments, render_all, render_page
from storage import Derived, ItemRecord, Storage

DECISION_KINDS = tuple(sorted(k.value for k in DECISIONS))


def derived_of(meeting: Meeting, actions: list[ActionItem] | None = None) -> Derived:
    """What storage keeps of a replayed meeting besides its lines (`actions`: the
    meeting's action items when the caller has already worked them out)."""
    found = meeting.actions() if actions is None else actions
    return Derived(meeting.name, meeting.title, meeting.founder, meeting.ended_at,
                   list(meeting.items), {a.item.line: a.owners for a in found})


@dataclass(frozen=True, slots=True)
class SeriesDecision:
    record: ItemRecord
    link: str  # relative to the series folder


@dataclass(frozen=True, slots=True)
class Published:
    files: dict[str, Path]  # output -> absolute path
    urls: dict[str, str]  # output -> URL (or path when no base URL is set)


class Publisher:
    def __init__(self, storage: Storage, root: Path, base_url: str = "") -> None:
        self.storage = storage
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._fragments: dict[int, Fragments] = {}  # open meetings only
        self.archive = ArchiveWriter(storage, root, base_url)

    def _fragments_of(self, meeting_id: int) -> Fragments:
        if meeting_id not in self._fragments:
            self._fragments[meeting_id] = new_fragments()
        return self._fragments[meeting_id]

    async def warm(self, meeting_id: int, meeting: Meeting, limit: int) -> bool:
        """Render ahead, off the event loop, up to `limit` lines of what publishing this
        meeting will need. True while there is more to do."""
        if meeting.started_at is None:
            return False
        log_name = PurePosixPath(files_for(stem_for(meeting.name, meeting.started_at))
                                 ["log_html"]).name
        fragments = self._fragments_of(meeting_id)
        # Snapshots: the meeting goes on changing on the event loop meanwhile.
        lines = meeting.lines[fragments.warmed_lines:fragments.warmed_lines + limit]
        items = list(meeting.items)
        if not lines and fragments.warmed_items(items, log_name):
            return False
        # Lines first, a chunk at a time; the (fewer) items once the lines are done.
        await asyncio.to_thread(fragments.warm, lines, [] if lines else items, log_name)
        return True

    def _url(self, relative: str) -> str:
        return f"{self.base_url}/{relative}" if self.base_url else str(self.root / relative)

    def line_url(self, stem: str | None, line: int) -> str:
        """Where readers find a line of a meeting's log ("" before it is published)."""
        return f"{self._url(files_for(stem)['log_html'])}#l-{line}" if stem else ""

    async def publish(self, meeting_id: int, meeting: Meeting, *,
                      series_page: bool = True) -> Published:
        """Write all outputs (off the event loop), then store what replay derived.

        The files come first: if the bot dies in between, the stored lines still say the
        meeting ended, and resuming finishes the job."""
        assert meeting.started_at is not None
        base = stem_for(meeting.name, meeting.started_at)
        stem = await self.storage.claim_stem(
            meeting_id, (s for s in stem_candidates(base) if not self._taken_on_disk(s))
        )
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
        fragments = self._fragments_of(meeting_id)
        if meeting.ended:
            del self._fragments[meeting_id]
        await asyncio.to_thread(self._write, view, fragments)
        await self.storage.save_meeting(meeting_id, derived_of(meeting, view.actions))
        if series_page:  # a bulk import writes each series' pages once, at the end
            await self.write_decisions(meeting.name)
            if meeting.ended:
                await self.archive.update([meeting.name], [meeting.started_at.year])
        return Published({k: inside(self.root, v) for k, v in files.items()}, view.urls)

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

    async def write_decisions(self, series: str) -> None:
        """The series' decision register: {name}/decisions.html and .json, newest first."""
        records = await self.storage.items(DECISION_KINDS, name=series)
        entries = [
            SeriesDecision(r, f"{PurePosixPath(r.meeting.stem).relative_to(series)}"
                              f".log.html#l-{r.line}" if r.meeting.stem else "")
            for r in records
        ]
        data = [
            {"time": viewmodel.iso(r.time), "channel": r.meeting.channel,
             "meeting_id": r.meeting.id, "kind": r.kind, "text": r.text, "nick": r.nick,
             "line": r.line, "url": self.line_url(r.meeting.stem, r.line)}
            for r in records
        ]
        html = render_page("decisions.html.j2", series=series, decisions=entries)
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        await asyncio.to_thread(self._write_files, {f"{series}/decisions.html": html,
                                                    f"{series}/decisions.json": text})

    def _write_files(self, contents: dict[str, str]) -> None:
        for relative, content in contents.items():  # rebuilt from storage: no fsync
            write_atomic(inside(self.root, relative), content, durable=False)

    def _taken_on_disk(self, stem: str) -> bool:
        return inside(self.root, f"{stem}.json").exists()

    def remove(self, stem: str) -> None:
        for relative in files_for(stem).values():
            inside(self.root, relative).unlink(missing_ok=True)

    def _write(self, view: viewmodel.MinutesView, fragments: Fragments) -> None:
        script = inside(self.root, SCRIPT)
        if not script.exists():  # the pages load it; the archive pages come later
            write_atomic(script, local_time_script())
        for key, content in render_all(view, fragments).items():
            write_atomic(inside(self.root, view.files[key]), content)
