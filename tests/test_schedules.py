"""Meeting schedules in irc-meetings YAML: reading, checking, dates across DST and ISO
week 53, and the iCal feeds parsed back."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import MeetingSettings
from openminutes.schedules.ical import calendar
from openminutes.schedules.model import FREQUENCIES, ScheduleError, load_dir, parse
from openminutes.schedules.recurrence import (
    SeriesSchedule,
    check_overlaps,
    occurrences,
    scheduled_at,
)
from tests.helpers import run_lines

EXAMPLES = Path(__file__).parent / "schedules"
ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 21)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_examples_cover_every_weekly_frequency_and_load() -> None:
    series = load_dir(EXAMPLES)
    check_overlaps(series, TODAY)
    used = {e.frequency for s in series for e in s.entries}
    assert {f for f in FREQUENCIES if f.split("-")[0] not in (
        "first", "second", "third", "fourth")} <= used
    assert {"first-monday", "third-wednesday"} <= used
    tc = next(s for s in series if s.meeting_id == "tc")
    assert tc.entries[0].irc == "#openstack-tc"
    assert tc.agenda_url.startswith("https://")
    assert tc.extra["project_url"] == "https://governance.example.org/tc/"


def _one(frequency: str, day: str = "Thursday", **extra: str) -> str:
    more = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    return (f"project: P\nmeeting_id: p\nschedule:\n  - time: '1500'\n    day: {day}\n"
            f"    irc: chan\n    frequency: {frequency}\n{more}")


def test_biweekly_follows_iso_weeks_across_week_53() -> None:
    # 2026 has an ISO week 53 (Mon 28 Dec): odd weeks 53 and 1 come one after the other.
    entry = parse(_one("biweekly-odd"), "f.yaml").entries[0]
    got = list(occurrences(entry, _utc(2026, 12, 1), _utc(2027, 1, 22)))
    assert [d.date() for d in got] == [date(2026, 12, 3), date(2026, 12, 17),
                                       date(2026, 12, 31), date(2027, 1, 7),
                                       date(2027, 1, 21)]
    even = parse(_one("biweekly-even"), "f.yaml").entries[0]
    got = list(occurrences(even, _utc(2026, 12, 1), _utc(2027, 1, 22)))
    assert [d.date() for d in got] == [date(2026, 12, 10), date(2026, 12, 24),
                                       date(2027, 1, 14)]


def test_times_are_utc_so_dst_changes_move_nothing() -> None:
    entry = parse(_one("weekly", "Sunday"), "f.yaml").entries[0]
    # Europe and the US change clocks on 8 and 29 March 2026 and 1 and 25 October.
    for start in (_utc(2026, 3, 1), _utc(2026, 10, 20)):
        got = list(occurrences(entry, start, start + timedelta(days=28)))
        assert len(got) == 4
        assert {(d.hour, d.minute, d.utcoffset()) for d in got} == {(15, 0, timedelta(0))}


def test_monthly_quadweekly_start_date_and_skip_dates() -> None:
    monthly = parse(_one("third-wednesday", "Wednesday"), "f.yaml").entries[0]
    got = list(occurrences(monthly, _utc(2026, 1, 1), _utc(2026, 4, 1)))
    assert [d.date() for d in got] == [date(2026, 1, 21), date(2026, 2, 18), date(2026, 3, 18)]
    quad = parse(_one("quadweekly-week-1"), "f.yaml").entries[0]
    got = list(occurrences(quad, _utc(2026, 1, 1), _utc(2026, 3, 1)))
    assert [d.date() for d in got] == [date(2026, 1, 1), date(2026, 1, 29), date(2026, 2, 26)]
    assert {d.isocalendar().week % 4 for d in got} == {1}
    later = parse(_one("weekly", start_date="20260115"), "f.yaml").entries[0]
    assert next(occurrences(later, _utc(2026, 1, 1), _utc(2026, 2, 1))).date() == \
        date(2026, 1, 15)
    tc = next(s for s in load_dir(EXAMPLES) if s.meeting_id == "tc").entries[0]
    december = [d.day for d in occurrences(tc, _utc(2026, 12, 1), _utc(2027, 1, 1))]
    assert december == [3, 10, 17]
    adhoc = parse(_one("adhoc"), "f.yaml").entries[0]
    assert list(occurrences(adhoc, _utc(2026, 1, 1), _utc(2027, 1, 1))) == []


@pytest.mark.parametrize(("text", "message"), [
    ("project: [1, 2]\n", "f.yaml: project: must be text"),
    ("meeting_id: x\n", "f.yaml: project: is required"),
    ("project: P\nschedule: []\n", "f.yaml: schedule: must be a non-empty list"),
    (_one("fortnightly"), "f.yaml: schedule[0].frequency: unknown frequency 'fortnightly'"),
    (_one("weekly", "Caturday"), "f.yaml: schedule[0].day: must be a weekday name"),
    (_one("weekly").replace("'1500'", "'2575'"), "f.yaml: schedule[0].time: must be HHMM"),
    (_one("weekly", start_date="20261345"), "schedule[0].start_date: 20261345 is not a real date"),
    (_one("weekly", duration="0"), "f.yaml: schedule[0].duration: must be minutes"),
    (_one("weekly").replace("    irc: chan\n", ""), "f.yaml: schedule[0].irc: is required"),
    (_one("weekly", skip_dates="[{reason: x}]"), "schedule[0].skip_dates[0]: must have"),
    ("project: P\n  bad: [\n", "f.yaml: not valid YAML"),
])
def test_bad_files_name_file_field_and_reason(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as error:
        parse(text, "f.yaml")
    assert message in str(error.value)


def test_two_series_overlapping_in_one_channel_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_one("weekly").replace("meeting_id: p", "meeting_id: a"))
    (tmp_path / "b.yaml").write_text(_one("biweekly-even").replace("meeting_id: p",
                                                                   "meeting_id: b"))
    with pytest.raises(ScheduleError, match=r"b.yaml: schedule: 'b' overlaps 'a'"):
        check_overlaps(load_dir(tmp_path), TODAY)
    # Alternate weeks in one channel do not overlap.
    (tmp_path / "a.yaml").write_text(_one("biweekly-odd").replace("meeting_id: p",
                                                                  "meeting_id: a"))
    check_overlaps(load_dir(tmp_path), TODAY)


def test_openstack_files_as_they_are_load(tmp_path: Path) -> None:
    """irc-meetings: two series share a meeting_id (their minutes share one folder), a
    file sits in a subfolder, and an entry carries a field yaml2ical passes over."""
    (tmp_path / "technical-committee-meeting.yaml").write_text(
        _one("weekly").replace("meeting_id: p", "meeting_id: tc"))
    (tmp_path / "office").mkdir()
    (tmp_path / "office" / "technical-committee-office-hours.yaml").write_text(
        _one("weekly", "Tuesday", note="'bring questions'")
        .replace("meeting_id: p", "meeting_id: tc").replace("project: P", "project: TC office"))
    series = load_dir(tmp_path)
    check_overlaps(series, TODAY)
    assert sorted(s.project for s in series if s.meeting_id == "tc") == ["P", "TC office"]
    cal = Calendar.from_ical(calendar(series, today=TODAY, archive_url="https://m/{name}/"))
    uids = sorted(str(e["uid"]) for e in cal.walk("VEVENT"))
    assert uids == ["tc-technical-committee-meeting-0@openminutes",
                    "tc-technical-committee-office-hours-0@openminutes"]
    assert all("https://m/tc/" in str(e["description"]) for e in cal.walk("VEVENT"))


def test_ical_feed_parses_back_and_matches_the_schedule() -> None:
    series = load_dir(EXAMPLES)
    data = calendar(series, today=TODAY, archive_url="https://m.example.org/{name}/")
    cal = Calendar.from_ical(data)
    events: dict[str, Any] = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert "security-sig-0@openminutes" not in events  # ad hoc: no dates
    tc = events["tc-0@openminutes"]
    assert tc.decoded("dtstart") == _utc(2026, 11, 26, 15, 0)
    assert tc.decoded("duration") == timedelta(minutes=60)
    assert "Agenda: https://wiki.example.org/Meetings/TechnicalCommittee" in str(
        tc["description"])
    assert "Minutes: https://m.example.org/tc/" in str(tc["description"])
    exdates = [d.dt for d in tc["exdate"].dts] if not isinstance(tc["exdate"], list) else \
        [d.dt for x in tc["exdate"] for d in x.dts]
    assert _utc(2026, 12, 24, 15, 0) in exdates
    # The rule, expanded by an independent implementation, gives the same dates.
    rule = rrulestr(tc["rrule"].to_ical().decode(), dtstart=tc.decoded("dtstart"))
    entry = next(s for s in series if s.meeting_id == "tc").entries[0]
    horizon = _utc(2027, 6, 1)
    ours = list(occurrences(entry, _utc(2026, 11, 21), horizon, with_skipped=True))
    assert list(rule.between(_utc(2026, 11, 21), horizon, inc=True)) == ours
    # Alternating weeks are listed date by date (an RRULE cannot follow ISO weeks).
    nova = events["nova-0@openminutes"]
    assert "rrule" not in nova
    listed = [nova.decoded("dtstart")] + [d.dt for d in nova["rdate"].dts]
    assert all(d.isocalendar().week % 2 == 1 for d in listed)
    assert date(2027, 1, 5) in [d.date() for d in listed]  # week 1 follows odd week 53


def test_an_unnamed_startmeeting_at_a_scheduled_time_takes_the_series_name() -> None:
    series = tuple(load_dir(EXAMPLES))
    settings = MeetingSettings(schedule=SeriesSchedule(series))
    at = _utc(2026, 11, 26, 14, 58)  # Thursday, two minutes before the TC meets
    assert scheduled_at(list(series), "#OpenStack-TC", at) is not None
    run = run_lines([Line(1, at, LineKind.MESSAGE, "jdoe", "#startmeeting")],
                    channel="#openstack-tc", settings=settings)
    assert (run.meeting.name, run.meeting.title) == ("tc", "Technical Committee Meeting")
    assert run.meeting.scheduled_minutes == 60
    run = run_lines([Line(1, at, LineKind.MESSAGE, "jdoe", "#startmeeting other things")],
                    channel="#openstack-tc", settings=settings)
    assert run.meeting.name == "other_things"
    notes = [r for r in run.all_replies if "is scheduled here" in r]
    assert notes == ["Note: Technical Committee Meeting ('tc') is scheduled here at 15:00 "
                     "UTC; this meeting is named 'other_things'."]
    # Outside the slot, nothing is taken from the schedule.
    run = run_lines([Line(1, at + timedelta(hours=3), LineKind.MESSAGE, "jdoe",
                          "#startmeeting")], channel="#openstack-tc", settings=settings)
    assert run.meeting.name == "openstack-tc"


def _cli_config(tmp_path: Path, schedule_dir: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/bot.db"\n'
                      f'[publish]\ndir = "{tmp_path}/minutes"\n'
                      'base_url = "https://minutes.example.org"\n'
                      f'[schedule]\ndir = "{schedule_dir}"\n')
    return config


def test_a_bad_schedule_file_stops_the_bot_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "schedules"
    bad.mkdir()
    (bad / "ok.yaml").write_text(_one("weekly"))
    (bad / "broken.yaml").write_text(_one("fortnightly").replace("meeting_id: p", "meeting_id: q"))
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "-c",
                           str(_cli_config(tmp_path, bad))], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert f"schedule error: {bad / 'broken.yaml'}: schedule[0].frequency: unknown " \
           "frequency 'fortnightly'" in done.stderr


def test_render_writes_the_ical_feeds_into_the_archive(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "bot.py"), "render", "--all", "-c",
                    str(_cli_config(tmp_path, EXAMPLES))], check=True, capture_output=True,
                   timeout=60)
    everything = Calendar.from_ical((tmp_path / "minutes" / "schedule.ics").read_bytes())
    one = Calendar.from_ical((tmp_path / "minutes" / "tc" / "schedule.ics").read_bytes())
    assert len(everything.walk("VEVENT")) == 1 + 2 + 5 + 2  # tc, nova, docs, release
    assert [str(e["summary"]) for e in one.walk("VEVENT")] == ["Technical Committee Meeting"]
    assert "https://minutes.example.org/tc/" in str(one.walk("VEVENT")[0]["description"])
