"""RFC 5545 calendars of the meeting series (the `icalendar` package writes them)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath

from icalendar import Calendar, Event, vRecur

from openminutes.schedules.model import WEEKDAYS, Entry, Series
from openminutes.schedules.recurrence import OVERLAP_HORIZON, occurrences

PRODID = "-//openminutes//meeting schedules//EN"
_ALTERNATING = ("biweekly", "quadweekly")


def _rrule(entry: Entry) -> vRecur | None:
    """A recurrence rule where one is exact: weekly and monthly. Alternating rules count
    ISO weeks, which no RRULE can (a week 53 breaks the rhythm), so their dates are
    listed instead."""
    day = WEEKDAYS.index(entry.day)
    byday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[day]
    if entry.frequency == "weekly":
        return vRecur(freq="WEEKLY", byday=byday)
    if entry.frequency.startswith(_ALTERNATING) or entry.frequency == "adhoc":
        return None
    ordinal = ("first", "second", "third", "fourth").index(entry.frequency.split("-")[0]) + 1
    return vRecur(freq="MONTHLY", byday=f"{ordinal}{byday}")


def _event(series: Series, uid: str, entry: Entry, today: date, archive_url: str,
           stamp: datetime) -> Event | None:
    start = datetime.combine(max(today, entry.start_date or today), datetime.min.time(), UTC)
    end = start + OVERLAP_HORIZON
    dates = list(occurrences(entry, start, end, with_skipped=True))
    if not dates:
        return None  # ad hoc: nothing to put in a calendar
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", series.project)
    event.add("dtstart", dates[0])
    event.add("duration", timedelta(minutes=entry.duration))
    rule = _rrule(entry)
    if rule is not None:
        event.add("rrule", rule)
    elif len(dates) > 1:
        event.add("rdate", dates[1:])
    for skip, _ in entry.skip_dates:
        moment = datetime.combine(skip, entry.time, UTC)
        if moment in dates:
            event.add("exdate", moment)
    event.add("location", ", ".join(entry.rooms))
    lines = [series.description] if series.description else []
    if series.chair:
        lines.append(f"Chair: {series.chair}")
    if series.agenda_url:
        lines.append(f"Agenda: {series.agenda_url}")
    lines.append(f"Minutes: {archive_url}")
    lines.append(f"Where: {', '.join(entry.rooms)}")
    event.add("description", "\n".join(lines))
    event.add("url", series.agenda_url or archive_url)
    return event


def calendar(series: list[Series], *, today: date, archive_url: str,
             name: str = "Meetings") -> bytes:
    """One calendar of every slot of the given series. `archive_url(meeting_id)` is where
    each series' minutes are listed."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    stamp = datetime.combine(today, datetime.min.time(), UTC)
    shared = Counter(s.meeting_id for s in series)
    for s in series:
        # Series that share a meeting_id are told apart by their file's name.
        key = s.meeting_id if shared[s.meeting_id] == 1 else \
            f"{s.meeting_id}-{PurePath(s.source).stem}"
        for index, entry in enumerate(s.entries):
            event = _event(s, f"{key}-{index}@openminutes", entry, today,
                           archive_url.format(name=s.meeting_id), stamp)
            if event is not None:
                cal.add_component(event)
    data: bytes = cal.to_ical()
    return data
