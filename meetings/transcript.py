"""Reading MeetBot's text log layout (`HH:MM:SS <nick> text`, `HH:MM:SS * nick action`) into
lines, for transcript tests and for importing old logs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta

from meetings.model import Line, LineKind

_MESSAGE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s+<[@+%~&]?\s*([^>\s]+)>\s?(.*)$")
_ACTION = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s+\*\s+(\S+)\s?(.*)$")


class TranscriptError(ValueError):
    def __init__(self, lineno: int, text: str) -> None:
        super().__init__(f"line {lineno}: not a log line: {text[:80]!r}")
        self.lineno = lineno


def parse_lines(texts: Iterable[str], day: date, *, strict: bool = False) -> Iterator[Line]:
    """Lines of a log that started on `day`; a time earlier than the one before it means
    the log went past midnight. Unrecognised lines raise in strict mode, else are skipped."""
    offset = timedelta(0)
    previous: datetime | None = None
    seq = 0
    for lineno, raw in enumerate(texts, 1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        match = _MESSAGE.match(text)
        kind = LineKind.MESSAGE
        if match is None:
            match = _ACTION.match(text)
            kind = LineKind.ACTION
        if match is None:
            if strict:
                raise TranscriptError(lineno, text)
            continue
        hh, mm, ss, nick, body = match.groups()
        moment = datetime.combine(day, time(int(hh), int(mm), int(ss or 0)), UTC) + offset
        if previous is not None and moment < previous:
            offset += timedelta(days=1)
            moment += timedelta(days=1)
        previous = moment
        seq += 1
        yield Line(seq, moment, kind, nick, body)
