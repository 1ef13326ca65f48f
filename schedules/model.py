"""Meeting series in OpenStack's irc-meetings YAML format, read and checked.

A file (one series) as irc-meetings has them:

    project: Technical Committee Meeting
    meeting_id: tc
    agenda_url: https://example.org/agenda
    chair: Jane Doe (jdoe)
    description: What the committee decides.
    schedule:
      - time: '1500'          # UTC, HHMM
        day: Thursday
        irc: openstack-tc     # the channel, without '#'; or matrix: '#tc:example.org'
        frequency: weekly     # see FREQUENCIES
        start_date: 20260105  # optional, YYYYMMDD
        duration: 60          # optional, minutes
        skip_dates:           # optional
          - skip_date: 20261224
            reason: holidays
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from openminutes.meetings.state import slugify

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ORDINALS = ("first", "second", "third", "fourth")
# Every frequency yaml2ical knows, and the ordinal-weekday monthly rules it has the
# first of ("first-monday"), for every week of the month.
FREQUENCIES = (
    "weekly", "biweekly-odd", "biweekly-even", "quadweekly", "quadweekly-week-1",
    "quadweekly-week-2", "quadweekly-week-3", "quadweekly-alternate", "adhoc",
    *(f"{o}-{d.lower()}" for o in _ORDINALS for d in WEEKDAYS),
)
DEFAULT_DURATION = 60  # minutes, as yaml2ical assumes


class ScheduleError(Exception):
    """A schedule file is wrong; the message names the file, the field and the reason."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One recurring slot of a series (a series may meet at several)."""

    time: time  # UTC
    day: str  # a name from WEEKDAYS
    frequency: str
    irc: str | None = None  # "#channel"
    matrix: str | None = None  # "#room:server"
    start_date: date | None = None
    duration: int = DEFAULT_DURATION
    skip_dates: tuple[tuple[date, str], ...] = ()

    @property
    def rooms(self) -> tuple[str, ...]:
        return tuple(r for r in (self.irc, self.matrix) if r)

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.duration)


@dataclass(frozen=True, slots=True)
class Series:
    meeting_id: str  # the meeting name the archive files it under
    project: str
    entries: tuple[Entry, ...]
    source: str  # the file it came from
    agenda_url: str = ""
    chair: str = ""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _fail(source: str, key: str, reason: str) -> ScheduleError:
    return ScheduleError(f"{source}: {key}: {reason}")


_LINE_BREAK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def _text(source: str, raw: dict[str, Any], key: str, *, required: bool = False,
          one_line: bool = True) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise _fail(source, key, "is required")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _fail(source, key, f"must be text, not {type(value).__name__}")
    text = str(value).strip()
    if one_line and _LINE_BREAK.search(text):
        # It ends up in reminders, iCal properties and page titles, each one line.
        raise _fail(source, key, "must be one line, without control characters")
    return text


def _date(source: str, key: str, value: Any) -> date:
    text = str(value)
    if not re.fullmatch(r"\d{8}", text):
        raise _fail(source, key, f"must be a date written YYYYMMDD, not {value!r}")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise _fail(source, key, f"{value!r} is not a real date") from None


def _entry(source: str, index: int, raw: Any) -> Entry:
    where = f"schedule[{index}]"
    if not isinstance(raw, dict):
        raise _fail(source, where, "must be a mapping")
    # Fields yaml2ical does not know it passes over, and so do we: existing files load.
    hhmm = _text(source, raw, "time", required=True).zfill(4)
    if not re.fullmatch(r"([01]\d|2[0-3])[0-5]\d", hhmm):
        raise _fail(source, f"{where}.time", f"must be HHMM in UTC, not {raw['time']!r}")
    day = _text(source, raw, "day", required=True).capitalize()
    if day not in WEEKDAYS:
        raise _fail(source, f"{where}.day", f"must be a weekday name, not {raw['day']!r}")
    frequency = _text(source, raw, "frequency", required=True).lower()
    if frequency not in FREQUENCIES:
        raise _fail(source, f"{where}.frequency", f"unknown frequency {raw['frequency']!r}")
    irc = _text(source, raw, "irc")
    matrix = _text(source, raw, "matrix")
    if not irc and not matrix:
        raise _fail(source, f"{where}.irc", "is required (or matrix: '#room:server')")
    if irc and not re.fullmatch(r"#?[^\s,#:\x07]+", irc):
        raise _fail(source, f"{where}.irc", f"{irc!r} is not a channel name")
    # A room id of room version 12 and later has no server part.
    if matrix and not re.fullmatch(r"[#!][^\s:]+:\S+|![A-Za-z0-9_\-+/=]{8,}", matrix):
        raise _fail(source, f"{where}.matrix", f"{matrix!r} is not a room alias or id")
    duration = raw.get("duration", DEFAULT_DURATION)
    if not isinstance(duration, int) or isinstance(duration, bool) or not 0 < duration <= 1440:
        raise _fail(source, f"{where}.duration", "must be minutes between 1 and 1440")
    skips = raw.get("skip_dates") or []
    if not isinstance(skips, list):
        raise _fail(source, f"{where}.skip_dates", "must be a list")
    skip_dates = []
    for j, skip in enumerate(skips):
        key = f"{where}.skip_dates[{j}]"
        if not isinstance(skip, dict) or "skip_date" not in skip:
            raise _fail(source, key, "must have a skip_date")
        skip_dates.append((_date(source, f"{key}.skip_date", skip["skip_date"]),
                           str(skip.get("reason") or "")))
    start = raw.get("start_date")
    return Entry(
        time(int(hhmm[:2]), int(hhmm[2:])), day, frequency,
        irc=("#" + irc.lstrip("#")) if irc else None, matrix=matrix or None,
        start_date=_date(source, f"{where}.start_date", start) if start is not None else None,
        duration=duration, skip_dates=tuple(skip_dates),
    )


def parse(text: str, source: str) -> Series:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScheduleError(f"{source}: must be a mapping of fields")
    meeting_id = _text(source, raw, "meeting_id")
    project = _text(source, raw, "project", required=True)
    # irc-meetings files without meeting_id are named after their project.
    meeting_id = slugify(meeting_id or project)
    entries = raw.get("schedule")
    if not isinstance(entries, list) or not entries:
        raise _fail(source, "schedule", "must be a non-empty list")
    return Series(
        meeting_id, project, tuple(_entry(source, i, e) for i, e in enumerate(entries)),
        source, agenda_url=_text(source, raw, "agenda_url"), chair=_text(source, raw, "chair"),
        description=_text(source, raw, "description", one_line=False),
        extra={k: v for k, v in raw.items() if k not in (
            "meeting_id", "project", "schedule", "agenda_url", "chair", "description")},
    )


def load_dir(folder: Path) -> list[Series]:
    """Every *.yaml file of a folder and its subfolders (as yaml2ical walks them),
    checked; stops at the first bad file. Series may share a meeting_id (irc-meetings'
    office hours and meetings of one team): their minutes share one archive folder."""
    if not folder.is_dir():
        raise ScheduleError(f"{folder}: schedule.dir is not a folder")
    series = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScheduleError(f"{path}: cannot be read: {exc}") from exc
        series.append(parse(text, str(path)))
    return series
