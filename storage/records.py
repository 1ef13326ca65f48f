"""Plain records storage hands out and takes in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meetings.model import Item, Line


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


@dataclass
class MeetingRef:
    """A meeting a line belongs to; id is None until its first line is committed."""

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
