"""Plain records storage hands out and takes in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from openminutes.meetings.model import Amendment, Item, Line


@dataclass(frozen=True, slots=True)
class MeetingRecord:
    id: int
    network: str
    channel: str
    name: str
    title: str
    founder: str
    started_at: datetime
    ended_at: datetime | None
    stem: str | None
    series: str = ""  # the series an imported archive filed it under (Meeting.series)


@dataclass(frozen=True, slots=True)
class Derived:
    """What replaying a meeting's lines gives, stored so listings, the decision register
    and search need no replay. `owners` maps an action item's line to the nicks it names."""

    name: str
    title: str
    founder: str
    ended_at: datetime | None
    items: Sequence[Item]
    owners: Mapping[int, Sequence[str]]
    series: str = ""  # not derived: given by an import (Meeting.series), kept with the rest


@dataclass(frozen=True, slots=True)
class MeetingRef:
    """A meeting a line belongs to, as storage needs to know it; id is None for a meeting
    whose first line is being written (storage returns the id it created)."""

    network: str
    channel: str
    started_at: datetime
    id: int | None = None
    name: str = ""  # the meeting's name as far as known (lines are indexed under it)


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """A minutes item with the meeting it belongs to: a row of the decision register or
    of the action-item listing."""

    meeting: MeetingRecord
    kind: str
    text: str
    nick: str
    time: datetime
    line: int
    owners: tuple[str, ...]

    def as_dict(self, url: str) -> dict[str, Any]:
        """As the CLI and the API show it, with the URL of its log line."""
        return {
            "time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"), "network": self.meeting.network,
            "channel": self.meeting.channel, "meeting": self.meeting.name,
            "meeting_id": self.meeting.id, "kind": self.kind, "text": self.text,
            "nick": self.nick, "owners": list(self.owners), "line": self.line, "url": url,
        }


@dataclass(frozen=True, slots=True)
class AmendmentRecord:
    """An amendment with the meeting it amends (`amend list`, the amendments feeds)."""

    meeting: MeetingRecord
    amendment: Amendment


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    name: str
    meetings: int
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """A file to store: its path, digest and the meetings read from it."""

    path: str
    digest: str
    meetings: Sequence[tuple[MeetingRef, Sequence[Line], Derived]]


class Written(list[bool]):
    """What write_lines did: per line, whether it was stored (False: its event was stored
    before); and the ids of the meetings it created, by the ref they were written under."""

    def __init__(self, inserted: list[bool], created: dict[MeetingRef, int]) -> None:
        super().__init__(inserted)
        self.created = created

    def stored(self, ref: MeetingRef) -> MeetingRef:
        """The ref of a meeting this write created, with its id."""
        return replace(ref, id=self.created[ref]) if ref.id is None else ref
