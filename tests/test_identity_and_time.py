"""Chair rights follow the identity, a meeting crossing midnight stays one meeting, and a
very long meeting is recorded and rendered."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import EVENT_WINDOW
from openminutes.publish.files import stem_for
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from tests.helpers import recording, run_lines, run_transcript

T = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def _line(n: int, nick: str, text: str, account: str | None = None,
          kind: LineKind = LineKind.MESSAGE) -> Line:
    return Line(n, T + timedelta(seconds=n), kind, nick, text, identity=account)


def test_a_taken_nick_does_not_take_the_chair() -> None:
    run = run_lines([
        _line(1, "alice", "#startmeeting", "alice-acct"),
        _line(2, "alice", "#chair bob", "alice-acct"),
        _line(3, "alice", "bye", "alice-acct", LineKind.QUIT),
        _line(4, "alice", "#topic taken over", None),  # someone else, no account
        _line(5, "alice", "#topic another account", "mallory-acct"),
        _line(6, "alice_", "#topic back under another nick", "alice-acct"),
    ])
    assert [i.text for i in run.meeting.items] == ["back under another nick"]
    assert run.replies_to(4) == ["alice: #topic is for chairs only (chairs: alice bob)."]


def test_chair_by_account_learned_from_lines() -> None:
    run = run_lines([
        _line(1, "chair", "#startmeeting"),
        _line(2, "bob", "hello", "bob-acct"),  # account-tag / extended-join tells us
        _line(3, "chair", "#chair bob"),
        _line(4, "bob", "", "bob-acct", LineKind.QUIT),
        _line(5, "bob", "#agreed impostor", None),
        _line(6, "robert", "#agreed the real bob", "bob-acct"),
    ])
    assert [i.text for i in run.meeting.items] == ["the real bob"]


def test_a_meeting_across_midnight_stays_one() -> None:
    run = run_transcript(
        "23:58:00 <chair> #startmeeting late\n"
        "23:59:59 <chair> #info before midnight\n"
        "00:00:01 <chair> #info after midnight\n"
        "00:30:00 <chair> #endmeeting\n", day=date(2026, 3, 28))
    m = run.meeting
    assert [i.time.date() for i in m.items] == [date(2026, 3, 28), date(2026, 3, 29)]
    assert m.started_at is not None
    assert m.ended_at == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert stem_for(m.name, m.started_at) == "late/2026/late.2026-03-28-23.58"


def _said(n: int, text: str, kind: LineKind = LineKind.MESSAGE,
          relates_to: str | None = None) -> ChatEvent:
    return ChatEvent("net", "#c", "alice", text, kind, T + timedelta(milliseconds=n),
                     identity="@alice:net", event_id=f"e{n}", relates_to=relates_to)


async def _recording(storage: Storage, out: Path) -> tuple[Recorder, asyncio.Task[None]]:
    return recording(storage, Publisher(storage, out))


async def test_a_100000_line_meeting_is_recorded_and_rendered(tmp_path: Path) -> None:
    """Held in the same memory at any length: the meeting keeps the last EVENT_WINDOW
    lines, older lines a correction is about are read back from storage (live, and on a
    restart), and the log is streamed out of storage when published. Peak memory is
    measured in bench/bench_irc.py."""
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    out = tmp_path / "out"
    recorder, task = await _recording(storage, out)
    big = "x" * 65536  # a 64 KiB message among them
    texts = ["#startmeeting long", big, "#agreed old wording", "secret hunter2",
             *(f"line {n}" for n in range(4, 99_999))]
    for n, text in enumerate(texts):
        recorder.submit(_said(n, text))
        if n % 5000 == 0:
            await recorder.drained()  # paced: a meeting arrives over hours, not at once
    await recorder.drained()
    (om,) = recorder.open.values()
    assert om.meeting.line_count >= 99_999
    assert len(om.meeting.recent) == EVENT_WINDOW  # bounded, not one entry per line
    # Corrections of lines long out of the window: read back from storage.
    recorder.submit(_said(100_001, "#agreed new wording", LineKind.EDIT, relates_to="e2"))
    recorder.submit(_said(100_002, "", LineKind.REDACTION, relates_to="e3"))
    await recorder.drained()
    assert [i.text for i in om.meeting.items] == ["new wording"]
    task.cancel()

    # A restart: the replay reads the log a chunk at a time and holds the corrected lines.
    recorder, task = await _recording(storage, out)
    await recorder.resume()
    (om,) = recorder.open.values()
    assert len(om.meeting.recent) == EVENT_WINDOW
    assert set(om.meeting.kept) == {"e2", "e3"}
    recorder.submit(_said(100_003, "#endmeeting"))
    await recorder.drained()
    task.cancel()

    (record,) = await storage.meetings()
    assert record.ended_at is not None
    assert await storage.count_lines(record.id) >= 100_000
    log = await asyncio.to_thread(lambda: next(out.rglob("*.log.txt")).read_text())
    assert "line 99998" in log
    assert big in log
    assert "<alice> #agreed new wording (edited)" in log
    assert "hunter2" not in log
    assert "*** (message removed)" in log
    minutes = await asyncio.to_thread(lambda: next(out.rglob("*.2026-03-02-18.00.txt"))
                                      .read_text())
    assert "AGREED: new wording" in minutes
    await storage.close()
