"""From a file's bytes to the meetings in it. Pure: no storage, no network."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePath

from meetings.engine import Engine
from meetings.model import Line, LineKind
from meetings.state import Meeting, MeetingSettings
from meetings.transcript import parse_log


class UnreadableLogError(ValueError):
    """A file that cannot be imported; the message says where and why."""


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATED_DIR = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_BINARY_CONTROLS = set(range(9)) | {11, 12} | set(range(14, 32))


@dataclass
class Found:
    """A meeting found in a file: its lines, renumbered from 1."""

    channel: str
    lines: list[Line]
    unended: bool = False


@dataclass
class FileResult:
    meetings: list[Found] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # unreadable lines


def decode(data: bytes) -> str:
    """Text of a log: UTF-8, repaired when it was encoded twice, else Latin-1."""
    sample = data[:8192]
    controls = sum(b in _BINARY_CONTROLS for b in sample)
    if b"\x00" in sample or controls > len(sample) // 20:
        raise UnreadableLogError("binary file, not a chat log")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
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


def day_for(path: PurePath, given: date | None) -> date:
    if given is not None:
        return given
    match = _DATE.search(path.name) or _DATE.search(str(path.parent))
    if match is None:
        raise UnreadableLogError("no date in the file name; give one with --date")
    return date(*map(int, match.groups()))


def split_meetings(lines: list[Line], channel: str, engine: Engine) -> list[Found]:
    """Meetings as the bot would have recorded them: from #startmeeting to #endmeeting;
    lines outside are not part of any. A meeting the log never ends is closed at its last
    line, with a line saying so."""
    settings = MeetingSettings()
    found: list[Found] = []
    current: Meeting | None = None
    collected: list[Line] = []
    for line in lines:
        if current is None:
            if not engine.starts_meeting(line, settings.prefixes):
                continue
            current, collected = Meeting("import", channel, settings), []
        line = Line(len(collected) + 1, *line[1:])
        collected.append(line)
        engine.apply(current, line)
        if current.ended:
            found.append(Found(channel, collected))
            current = None
    if current is not None:
        last = collected[-1]
        closing = Line(len(collected) + 1, last.time, LineKind.CLOSE, "",
                       "the log ends without #endmeeting; the meeting was closed at its last line")
        found.append(Found(channel, [*collected, closing], unended=True))
    return found


def read_text_log(data: bytes, path: PurePath, engine: Engine, *, day: date | None = None,
                  channel: str | None = None) -> FileResult:
    parsed = parse_log(decode(data).splitlines(), day_for(path, day))
    if not parsed.lines:
        raise UnreadableLogError("no chat lines found")
    meetings = split_meetings(parsed.lines, channel_for(path, channel), engine)
    if not meetings:
        raise UnreadableLogError("no #startmeeting in the log")
    return FileResult(meetings, parsed.problems)


def read_hcoop_json(data: bytes, path: PurePath, engine: Engine, *,
                    channel: str | None = None) -> FileResult:
    """hcoop-meetbot's raw log: {"channel": ..., "messages": [{"sender", "payload",
    "action", "timestamp"}]}."""
    try:
        raw = json.loads(decode(data))
        messages = raw["messages"]
        lines = [
            Line(n, datetime.fromisoformat(m["timestamp"]).astimezone(UTC),
                 LineKind.ACTION if m.get("action") else LineKind.MESSAGE,
                 str(m["sender"]), str(m["payload"]))
            for n, m in enumerate(messages, 1)
        ]
        room = channel or str(raw.get("channel") or channel_for(path, None))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableLogError(f"not an hcoop-meetbot raw log: {exc}") from None
    meetings = split_meetings(lines, room, engine)
    if not meetings:
        raise UnreadableLogError("no #startmeeting in the log")
    return FileResult(meetings)


def is_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")
