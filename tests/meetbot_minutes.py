"""Reading what MeetBot wrote in its text minutes, to compare our engine against it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DETAIL = re.compile(r"\s+\(([^,()]+), (\d{2}:\d{2}:\d{2})\)$")
_LABELS = ("ACTION", "AGREED", "ACCEPTED", "REJECTED", "IDEA", "LINK", "HELP", "INFO")


@dataclass
class MeetBotMinutes:
    topics: list[str] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    by_person: dict[str, list[str]] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)


def _sections(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    sections: dict[str, list[str]] = {}
    current = ""
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1]) and line.strip():
            current = line.strip().lower()
            sections[current] = []
        elif not re.fullmatch(r"-{3,}", line):
            sections.setdefault(current, []).append(line)
    return sections


def _summary(lines: list[str]) -> tuple[list[str], list[str]]:
    """Topic and item bullets of the summary, wrapped continuation lines joined."""
    topics: list[str] = []
    items: list[str] = []
    last: list[str] = topics
    for line in lines:
        if line.startswith("Meeting ended"):
            break
        if line.startswith("* "):
            topics.append(line[2:])
            last = topics
        elif line.startswith("  * "):
            items.append(line[4:])
            last = items
        elif line.startswith("  ") and line.strip() and last:
            last[-1] += " " + line.strip()
    return topics, items


def parse(text: str) -> MeetBotMinutes:
    sections = _sections(text)
    out = MeetBotMinutes()
    topics, items = _summary(sections.get("meeting summary", []))
    out.topics = [_DETAIL.sub("", t).strip() for t in topics]
    for entry in items:
        body = _DETAIL.sub("", entry.strip())
        label, _, rest = body.partition(":")
        if label in _LABELS:
            out.items.append((label.lower(), rest.strip()))
        else:  # INFO items carry no label in MeetBot's text
            out.items.append(("info", body))
    person_lines = sections.get("action items, by person", [])
    person = ""
    for line in person_lines:
        if line.startswith("* "):
            person = line[2:].strip().strip("*")
            out.by_person[person] = []
        elif line.startswith("  * "):
            out.by_person[person].append(line[4:].strip())
        elif line.startswith("    ") and out.by_person.get(person):
            out.by_person[person][-1] += " " + line.strip()
    for line in sections.get("people present (lines said)", []):
        match = re.match(r"\* (.+) \((\d+)\)$", line)
        if match:
            out.present[match.group(1)] = int(match.group(2))
    return out
