"""From a file's bytes to the meetings in it. Pure: no storage, no network."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePath

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import Meeting, MeetingSettings, slugify
from openminutes.meetings.text import clean_text, log_lines
from openminutes.meetings.transcript import parse_log


class UnreadableLogError(ValueError):
    """A file that cannot be imported; the message says where and why."""


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATED_DIR = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# MeetBot's `{name}.YYYY-MM-DD-HH.MM.log.txt` (a `-2` for a second meeting that minute)
# and hcoop-meetbot's `{name}.YYYYMMDD.HHMM.log.json`.
_SERIES_FILE = re.compile(
    r"^(?P<name>.+?)\.(?:\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}(?:-\d+)?|\d{8}\.\d{4})"
    r"\.log\.(?:txt|json)$")
# Bytes a text log does not contain: control characters other than tab, LF and CR.
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 32 and b not in (9, 10, 13)))


@dataclass
class Found:
    """A meeting found in a file: its lines, renumbered from 1, and the state the engine
    built from exactly those lines."""

    channel: str
    lines: list[Line]
    meeting: Meeting
    unended: bool = False


@dataclass
class FileResult:
    meetings: list[Found] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # unreadable lines


def _decode_lines(data: bytes) -> str:
    """A file that is not UTF-8 as a whole: each line decoded on its own (a log that
    changed encoding midway keeps its UTF-8 lines), the others as CP1252."""
    out: list[str] = []
    for raw in data.split(b"\n"):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(raw.decode("cp1252", errors="replace"))
    return "\n".join(out)


def decode(data: bytes) -> str:
    """Text of a log: UTF-8, repaired when it was encoded twice, else line by line."""
    sample = data[:8192]
    controls = len(sample.translate(None, _NOT_CONTROL))  # counted in C
    if b"\x00" in sample or controls > len(sample) // 20:
        raise UnreadableLogError("binary file, not a chat log")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_lines(data)
    for legacy in ("latin-1", "cp1252"):
        # UTF-8 bytes once read as Latin-1 and saved again as UTF-8 ("cafÃ©").
        try:
            repaired = text.encode(legacy).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if repaired != text:
            return repaired
    return text


def channel_for(path: PurePath, given: str | None) -> str:
    """The channel: given, else the nearest folder that is not a year or a date."""
    if given:
        return given if given[0] in "#&!+" else f"#{given}"
    for folder in reversed(path.parent.parts):
        if folder and not _DATED_DIR.match(folder) and folder not in ("/", "."):
            return f"#{folder}"
    return f"#{path.name.split('.')[0]}"


def series_for(path: PurePath) -> str:
    """The series an archive's file name files the meeting under ("" if it names none),
    so that the imported meeting keeps the path its old links point at."""
    match = _SERIES_FILE.match(path.name)
    return slugify(match.group("name")) if match else ""


def day_for(path: PurePath, given: date | None) -> date:
    if given is not None:
        return given
    match = _DATE.search(path.name) or _DATE.search(str(path.parent))
    if match is None:
        raise UnreadableLogError("no date in the file name; give one with --date")
    return date(*map(int, match.groups()))


def split_meetings(lines: list[Line], channel: str, engine: Engine,
                   settings: MeetingSettings, network: str, series: str = "") -> list[Found]:
    """Meetings as the bot would have recorded them: from #startmeeting to #endmeeting;
    lines outside are not part of any. A meeting the log never ends is closed at its last
    line, with a line saying so. `series`: the name the archive filed them under."""
    found: list[Found] = []
    current: Meeting | None = None
    collected: list[Line] = []
    for line in lines:
        if current is None:
            if not engine.starts_meeting(line, settings.prefixes):
                continue
            current, collected = Meeting(network, channel, settings, series=series), []
        line = Line(len(collected) + 1, *line[1:])
        collected.append(line)
        engine.apply(current, line)
        if current.ended:
            found.append(Found(channel, collected, current))
            current = None
    if current is not None:
        last = collected[-1]
        closing = Line(len(collected) + 1, last.time, LineKind.CLOSE, "",
                       "the log ends without #endmeeting; the meeting was closed at its last line")
        collected.append(closing)
        engine.apply(current, closing)
        found.append(Found(channel, collected, current, unended=True))
    return found


@dataclass(frozen=True)
class Reading:
    """How to read files: the engine and rules meetings follow, and what the caller says
    that the files do not."""

    engine: Engine
    settings: MeetingSettings
    network: str = "irc"
    day: date | None = None
    channel: str | None = None


def read_text_log(data: bytes, path: PurePath, how: Reading) -> FileResult:
    parsed = parse_log(log_lines(decode(data)), day_for(path, how.day))
    if not parsed.lines:
        raise UnreadableLogError("no chat lines found")
    meetings = split_meetings(parsed.lines, channel_for(path, how.channel), how.engine,
                              how.settings, how.network, series_for(path))
    if not meetings:
        raise UnreadableLogError("no #startmeeting in the log")
    return FileResult(meetings, parsed.problems)


def read_hcoop_json(data: bytes, path: PurePath, how: Reading) -> FileResult:
    """hcoop-meetbot's raw log: {"channel": ..., "messages": [{"sender", "payload",
    "action", "timestamp"}]}."""
    try:
        raw = json.loads(decode(data))
        messages = raw["messages"]
        lines = [
            Line(n, datetime.fromisoformat(m["timestamp"]).astimezone(UTC),
                 LineKind.ACTION if m.get("action") else LineKind.MESSAGE,
                 clean_text(str(m["sender"])), clean_text(str(m["payload"])))
            for n, m in enumerate(messages, 1)
        ]
        room = how.channel or str(raw.get("channel") or channel_for(path, None))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableLogError(f"not an hcoop-meetbot raw log: {exc}") from None
    meetings = split_meetings(lines, room, how.engine, how.settings, how.network,
                              series_for(path))
    if not meetings:
        raise UnreadableLogError("no #startmeeting in the log")
    return FileResult(meetings)


def is_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")
