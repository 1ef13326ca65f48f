"""When a series meets: yaml2ical's rules, in UTC (so DST never moves a meeting).

Alternating rules count ISO weeks, as yaml2ical does: `biweekly-odd` meets in odd ISO
weeks, so a year with a week 53 has two odd weeks in a row (53 and 1)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from openminutes.meetings.state import ScheduledSlot
from openminutes.schedules.model import WEEKDAYS, Entry, ScheduleError, Series

_QUADWEEK = {"quadweekly": 0, "quadweekly-week-1": 1, "quadweekly-week-2": 2,
             "quadweekly-week-3": 3, "quadweekly-alternate": 2}
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4}
EARLY_START = timedelta(minutes=15)  # a #startmeeting this early still belongs to the slot
OVERLAP_HORIZON = timedelta(days=2 * 366)


def meets_on(entry: Entry, day: date) -> bool:
    """Whether the entry's rule holds on a day (its weekday, not skipped or not)."""
    if day.weekday() != WEEKDAYS.index(entry.day) or entry.frequency == "adhoc":
        return False
    if entry.start_date is not None and day < entry.start_date:
        return False
    week = day.isocalendar().week
    rule = entry.frequency
    if rule == "weekly":
        return True
    if rule == "biweekly-odd":
        return week % 2 == 1
    if rule == "biweekly-even":
        return week % 2 == 0
    if rule in _QUADWEEK:
        return week % 4 == _QUADWEEK[rule]
    ordinal = _ORDINAL[rule.split("-", 1)[0]]
    return (ordinal - 1) * 7 < day.day <= ordinal * 7


def skipped(entry: Entry, day: date) -> str | None:
    """The reason a day is skipped, or None."""
    for skip, reason in entry.skip_dates:
        if skip == day:
            return reason or "skipped"
    return None


def occurrences(entry: Entry, start: datetime, end: datetime, *,
                with_skipped: bool = False) -> Iterator[datetime]:
    """Start times (UTC) in [start, end), oldest first."""
    if entry.frequency == "adhoc":
        return
    day = start.astimezone(UTC).date()
    offset = (WEEKDAYS.index(entry.day) - day.weekday()) % 7
    day += timedelta(days=offset)
    while True:
        moment = datetime.combine(day, entry.time, UTC)
        if moment >= end:
            return
        if moment >= start and meets_on(entry, day) and (with_skipped or not skipped(entry, day)):
            yield moment
        day += timedelta(days=7)


def next_occurrence(entry: Entry, after: datetime,
                    horizon: timedelta = timedelta(days=400)) -> datetime | None:
    return next(occurrences(entry, after, after + horizon), None)


@dataclass(frozen=True, slots=True)
class Slot:
    """One meeting of a series: which, where and when."""

    series: Series
    entry: Entry
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + self.entry.length


def scheduled_at(series: list[Series], room: str, moment: datetime) -> Slot | None:
    """The meeting scheduled in a room at a moment (from a little before it starts until
    its scheduled end), if any."""
    wanted = room.lower()
    for s in series:
        for entry in s.entries:
            if wanted not in (r.lower() for r in entry.rooms):
                continue
            for start in occurrences(entry, moment - entry.length, moment + EARLY_START):
                if start - EARLY_START <= moment < start + entry.length:
                    return Slot(s, entry, start)
    return None


def check_overlaps(series: list[Series], today: date) -> None:
    """Two series meeting in one room at overlapping times are refused, as yaml2ical
    refuses them; checked over the next two years."""
    start = datetime.combine(today, datetime.min.time(), UTC)
    end = start + OVERLAP_HORIZON
    by_room: dict[str, list[tuple[Series, Entry]]] = {}
    for s in series:
        for entry in s.entries:
            for room in entry.rooms:
                by_room.setdefault(room.lower(), []).append((s, entry))
    for room, slots in by_room.items():
        for i, (a, entry_a) in enumerate(slots):
            times_a = list(occurrences(entry_a, start, end))
            for b, entry_b in slots[i + 1:]:
                if a is b:  # yaml2ical compares the schedules of different files only
                    continue
                for when in occurrences(entry_b, start, end):
                    if any(t < when + entry_b.length and when < t + entry_a.length
                           for t in times_a):
                        raise ScheduleError(
                            f"{b.source}: schedule: {b.meeting_id!r} overlaps "
                            f"{a.meeting_id!r} ({a.source}) in {room} on "
                            f"{when:%Y-%m-%d %H:%M} UTC")


class SeriesSchedule:
    """The series of [schedule] dir as the engine asks about them (meetings.state.Schedule)."""

    def __init__(self, series: Iterable[Series]) -> None:
        self.series = list(series)

    def slot_at(self, room: str, moment: datetime) -> ScheduledSlot | None:
        slot = scheduled_at(self.series, room, moment)
        if slot is None:
            return None
        return ScheduledSlot(slot.series.meeting_id, slot.series.project, slot.start,
                             slot.entry.duration)
