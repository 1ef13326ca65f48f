"""Reading chat logs into lines: MeetBot's text log (`HH:MM:SS <nick> text`,
`HH:MM:SS * nick action`) and common client logs (`HH:MM`, `[HH:MM]`, irssi's `< nick>` and
`<@nick>`, join, part, quit and nick-change lines). For transcript tests and imports."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.text import clean_text

_TIME = r"\[?(\d{1,2}):(\d{2})(?::(\d{2}))?\]?\s+"
_MESSAGE = re.compile(_TIME + r"<[\s@+%~&]?([^>\s]+)>\s?(.*)$")
_ACTION = re.compile(_TIME + r"\*\s+(\S+)\s?(.*)$")
# irssi "-!- nick [user@host] has joined #chan", and plain "*** nick has joined"
_EVENT = re.compile(_TIME + r"(?:-!-|\*\*\*|ℹ|→|←|⇐|⇒)\s+(\S+)\s+(?:\[[^\]]*\]\s+)?(.*)$")
_NICK_CHANGE = re.compile(r"is now known as (\S+)")


class TranscriptError(ValueError):
    def __init__(self, lineno: int, text: str) -> None:
        super().__init__(f"line {lineno}: not a log line: {text[:80]!r}")
        self.lineno = lineno


@dataclass
class ParsedLog:
    lines: list[Line] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)


def _event(rest: str) -> tuple[LineKind, str] | None:
    if (renamed := _NICK_CHANGE.search(rest)) is not None:
        return LineKind.NICK, renamed.group(1)
    lowered = rest.lower()
    reason = rest[rest.find("[") + 1: rest.rfind("]")] if "[" in rest and "]" in rest else ""
    if "has joined" in lowered or lowered.startswith("joined"):
        return LineKind.JOIN, ""
    if "has left" in lowered or lowered.startswith("left"):
        return LineKind.PART, reason
    if "has quit" in lowered or lowered.startswith("quit"):
        return LineKind.QUIT, reason
    return None


def parse_log(texts: Iterable[str], day: date) -> ParsedLog:
    """Lines of a log that started on `day`; a time earlier than the one before it means
    the log went past midnight. Lines that are not recognised are listed, not guessed."""
    out = ParsedLog()
    offset = timedelta(0)
    previous: datetime | None = None
    for lineno, raw in enumerate(texts, 1):
        # Logs pasted into a wiki or a mail are often indented: the indent is not a line.
        text = raw.rstrip("\r\n").lstrip(" \t")
        if not text.strip():
            continue
        kind: LineKind | None = LineKind.MESSAGE
        match = _MESSAGE.match(text)
        if match is None:
            match, kind = _ACTION.match(text), LineKind.ACTION
        body = ""
        if match is None:
            match = _EVENT.match(text)
            found = _event(match.group(5)) if match else None
            kind, body = found if found else (None, "")
        if match is None or kind is None:
            out.problems.append((lineno, text))
            continue
        hh, mm, ss, nick, rest = match.groups()
        if kind in (LineKind.MESSAGE, LineKind.ACTION):
            body = rest
        moment = datetime.combine(day, time(int(hh) % 24, int(mm), int(ss or 0)), UTC) + offset
        if previous is not None and moment < previous:
            offset += timedelta(days=1)
            moment += timedelta(days=1)
        previous = moment
        out.lines.append(Line(len(out.lines) + 1, moment, kind, clean_text(nick),
                              clean_text(body)))
    return out


def parse_lines(texts: Iterable[str], day: date, *, strict: bool = False) -> Iterator[Line]:
    """The lines of a log; in strict mode an unrecognised line raises."""
    parsed = parse_log(texts, day)
    if strict and parsed.problems:
        raise TranscriptError(*parsed.problems[0])
    yield from parsed.lines
