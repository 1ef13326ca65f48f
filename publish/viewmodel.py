"""The one view of a meeting that every output (HTML, text, Markdown, JSON) is made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from openminutes.meetings.model import Applied, Item, ItemKind, Line
from openminutes.meetings.state import ActionItem, Attendee, Meeting
from openminutes.meetings.votes import Vote

EXTENSIONS = {
    "html": "html",
    "txt": "txt",
    "log_html": "log.html",
    "log_txt": "log.txt",
    "md": "md",
    "json": "json",
}


def iso(t: datetime | None) -> str | None:
    """`2026-03-02T18:00:00Z` (formatted by hand: strftime is slow, and this is per line)."""
    if t is None:
        return None
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
            f"T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z")


@dataclass(frozen=True, slots=True)
class TopicGroup:
    topic: Item | None  # None for items said before the first #topic
    items: list[Item]


@dataclass(frozen=True, slots=True)
class PreviousMeeting:
    """The series' previous meeting, for "Action items from the previous meeting"."""

    id: int
    started_at: datetime
    minutes_url: str
    actions: list[tuple[str, tuple[str, ...]]]  # (text, owners)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """The previous or next published meeting of the series, as its pages link to it."""

    stem: str
    started_at: datetime
    title: str

    def link(self, from_stem: str, extension: str) -> str:
        """Its page of this kind, relative to the page of `from_stem` (both live in the
        series folder, perhaps in different years)."""
        name = PurePosixPath(self.stem)
        same_year = name.parent == PurePosixPath(from_stem).parent
        return f"{name.name}.{extension}" if same_year else \
            f"../{name.parent.name}/{name.name}.{extension}"


@dataclass
class MinutesView:
    id: int
    network: str
    channel: str
    name: str
    title: str
    founder: str
    chairs: list[str]
    started_at: datetime
    ended_at: datetime | None
    groups: list[TopicGroup]
    items: list[Item]
    actions: list[ActionItem]
    by_person: list[tuple[str, list[Item]]]
    unassigned: list[Item]
    attendees: list[Attendee]
    votes: list[Vote]
    gaps: list[Line]  # times the recorder was offline during the meeting
    files: dict[str, str]  # output -> path relative to the publish dir
    urls: dict[str, str]  # output -> URL readers use
    previous: PreviousMeeting | None = None
    earlier: Neighbour | None = None  # the series' previous published meeting
    later: Neighbour | None = None  # and the next one
    amendments: list[Applied] = field(default_factory=list)  # made after it ended

    @property
    def stem(self) -> str:
        return self.files["html"].removesuffix(".html")

    @property
    def heading(self) -> str:
        # An untitled meeting's title already names the channel ("#chan Meeting").
        untitled = self.title == f"{self.channel} Meeting"
        return self.title if untitled else f"{self.channel}: {self.title}"

    def to_json(self) -> dict[str, Any]:
        """The documented machine-readable form (schema in README.md), but for "log",
        whose entries the renderer streams after it (see render.LogOutputs)."""
        return {
            "schema": 1,
            "id": self.id,
            "network": self.network,
            "channel": self.channel,
            "name": self.name,
            "title": self.title,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "founder": self.founder,
            "chairs": self.chairs,
            "items": [_item_json(i) for i in self.items],
            "actions": [
                {"text": a.item.text, "owners": list(a.owners), "nick": a.item.nick,
                 "time": iso(a.item.time), "line": a.item.line}
                for a in self.actions
            ],
            "attendees": [{"nick": a.nick, "lines": a.lines,
                           **({"earlier_nicks": list(a.earlier)} if a.earlier else {})}
                          for a in self.attendees],
            "gaps": [{"time": iso(g.time), "line": g.seq, "text": g.text} for g in self.gaps],
            "votes": [_vote_json(v) for v in self.votes],
            "previous_actions": None if self.previous is None else {
                "meeting_id": self.previous.id,
                "started_at": iso(self.previous.started_at),
                "minutes": self.previous.minutes_url,
                "actions": [{"text": t, "owners": list(o)} for t, o in self.previous.actions],
            },
            "amendments": [_amendment_json(a) for a in self.amendments],
            "files": self.files,
            "urls": self.urls,
        }


def _item_json(item: Item) -> dict[str, Any]:
    return {"kind": item.kind.name, "text": item.text, "nick": item.nick,
            "time": iso(item.time), "line": item.line}


def _amendment_json(applied: Applied) -> dict[str, Any]:
    a = applied.amendment
    return {"id": a.id, "action": str(a.action), "line": a.line, "by": a.by,
            "time": iso(a.at), "reason": a.reason, "change": applied.change,
            "applied": not applied.error}


def _vote_json(vote: Vote) -> dict[str, Any]:
    return {
        "question": vote.question,
        "options": list(vote.options),
        "tally": vote.tally(),
        "result": vote.result,
        "passed": vote.passed,
        "rule": vote.rule.describe(len(vote.current_ballots())),
        "started_by": vote.started_by,
        "started_at": iso(vote.started_at),
        "ended_at": iso(vote.ended_at),
        "line": vote.line,
        "result_line": vote.end_line,
        "closed_by_meeting_end": vote.closed_by_meeting_end,
        "ballots": [
            {"voter": b.voter, "choice": b.choice, "time": iso(b.time), "line": b.line,
             "counted": b.counted and not b.replaced,
             "status": "not eligible" if not b.counted else "replaced" if b.replaced else "counted"}
            for b in vote.ballots
        ],
    }


def _groups(items: list[Item]) -> list[TopicGroup]:
    groups: list[TopicGroup] = []
    for item in items:
        if item.kind == ItemKind.TOPIC:
            groups.append(TopicGroup(item, []))
        elif groups:
            groups[-1].items.append(item)
        else:
            groups.append(TopicGroup(None, [item]))
    return groups


def build(meeting: Meeting, meeting_id: int, files: dict[str, str],
          urls: dict[str, str]) -> MinutesView:
    assert meeting.started_at is not None, "only a started meeting has minutes"
    actions = meeting.actions()
    by_person: dict[str, list[Item]] = {}
    unassigned: list[Item] = []
    for action in actions:
        for owner in action.owners:
            by_person.setdefault(owner, []).append(action.item)
        if not action.owners:
            unassigned.append(action.item)
    return MinutesView(
        id=meeting_id,
        network=meeting.network,
        channel=meeting.channel,
        name=meeting.name,
        title=meeting.title,
        founder=meeting.founder,
        chairs=meeting.chair_nicks(),
        started_at=meeting.started_at,
        ended_at=meeting.ended_at,
        groups=_groups(meeting.items),
        items=list(meeting.items),
        actions=actions,
        by_person=sorted(by_person.items(), key=lambda kv: kv[0].lower()),
        unassigned=unassigned,
        attendees=meeting.attendees(),
        votes=list(meeting.votes),
        gaps=list(meeting.gaps),
        files=files,
        urls=urls,
        amendments=list(meeting.amendments),
    )
