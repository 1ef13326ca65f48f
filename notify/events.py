"""The JSON events sent when a meeting starts and ends (pure)."""

from __future__ import annotations

from typing import Any

from openminutes.meetings.model import Applied, ItemKind
from openminutes.meetings.state import Meeting
from openminutes.publish.viewmodel import iso


def _meeting(meeting_id: int | None, meeting: Meeting) -> dict[str, Any]:
    return {"id": meeting_id, "network": meeting.network, "channel": meeting.channel,
            "name": meeting.name, "title": meeting.title, "founder": meeting.founder,
            "started_at": iso(meeting.started_at), "ended_at": iso(meeting.ended_at)}


def started(meeting_id: int | None, meeting: Meeting) -> dict[str, Any]:
    return {"event": "meeting.started", "meeting": _meeting(meeting_id, meeting)}


def ended(meeting_id: int | None, meeting: Meeting, urls: dict[str, str]) -> dict[str, Any]:
    """With the minutes' URLs, the decisions and the action items with their owners."""
    return {
        "event": "meeting.ended",
        "meeting": _meeting(meeting_id, meeting),
        "minutes": urls,
        "decisions": [{"kind": i.kind.name, "text": i.text, "nick": i.nick,
                       "time": iso(i.time), "line": i.line}
                      for i in meeting.items if i.kind.is_decision],
        "actions": [{"text": a.item.text, "owners": list(a.owners), "line": a.item.line}
                    for a in meeting.actions()],
        "topics": [i.text for i in meeting.items if i.kind == ItemKind.TOPIC],
    }


def amended(meeting_id: int, meeting: Meeting, urls: dict[str, str],
            applied: Applied) -> dict[str, Any]:
    """The amendment (never the text a redaction removed) and the meeting as it now is."""
    a = applied.amendment
    return {**ended(meeting_id, meeting, urls), "event": "meeting.amended",
            "amendment": {"id": a.id, "action": str(a.action), "line": a.line, "by": a.by,
                          "time": iso(a.at), "reason": a.reason, "change": applied.change}}
