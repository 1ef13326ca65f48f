"""Publishing with the log rendered ahead (the spool) writes exactly what a cold publish
writes, corrections of lines already rendered included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import Meeting
from openminutes.plugins import default_registry
from openminutes.publish.publisher import Publisher
from openminutes.storage import Storage
from openminutes.storage.records import MeetingRef

T = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
URL = "https://minutes.example.org"


def _line(seq: int, text: str, kind: LineKind = LineKind.MESSAGE,
          relates_to: str | None = None) -> Line:
    return Line(seq, T + timedelta(seconds=seq), kind, "alice", text, "@alice:a.org",
                event_id=f"e{seq}", relates_to=relates_to)


async def _say(storage: Storage, ref: MeetingRef, meeting: Meeting,
               lines: list[Line]) -> MeetingRef:
    """Store and apply lines; returns the ref with the meeting's id."""
    ref = (await storage.write_lines([(ref, line) for line in lines])).stored(ref)
    engine = Engine(default_registry())
    for line in lines:
        engine.apply(meeting, line)
    return ref


def _log_outputs(root: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(root.rglob("*"))
            if p.name.endswith((".log.html", ".log.txt", ".json"))
            and not p.name.startswith("decisions")}


async def test_spooled_publish_equals_a_cold_one(tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ref = MeetingRef("m", "#room", T)
    meeting = Meeting("m", "#room", event_window=10_000)  # no recorder here to read back
    ref = await _say(storage, ref, meeting, [_line(1, "#startmeeting spool"),
                                        *(_line(n, f"said {n} <b>") for n in range(2, 4500))])
    assert ref.id is not None
    warm = Publisher(storage, tmp_path / "warm", URL)
    rounds = 0
    while await warm.warm(ref.id, meeting):
        rounds += 1
    assert rounds >= 3  # the items, then the log in chunks
    # Lines after the spool, then corrections of lines inside it.
    await _say(storage, ref, meeting, [
        _line(4500, "#agreed late"),
        _line(4501, "said 3, corrected", LineKind.EDIT, relates_to="e3"),
        _line(4502, "", LineKind.REDACTION, relates_to="e4"),
        _line(4503, "#endmeeting"),
    ])
    await warm.publish(ref.id, meeting)
    await Publisher(storage, tmp_path / "cold", URL).publish(ref.id, meeting)

    spooled, cold = _log_outputs(tmp_path / "warm"), _log_outputs(tmp_path / "cold")
    assert set(spooled) == set(cold)
    assert len(cold) == 3
    for name, text in cold.items():
        assert spooled[name] == text, name
    log = next(text for name, text in cold.items() if name.endswith(".log.txt"))
    assert "<alice> said 3, corrected (edited)" in log
    assert "said 4 " not in log
    assert "said 4499 <b>" in log
    await storage.close()


async def test_a_spool_without_corrections_is_kept(tmp_path: Path) -> None:
    """`#save` mid-meeting leaves the spool in place; the lines since are added to it."""
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ref = MeetingRef("m", "#room", T)
    meeting = Meeting("m", "#room")
    ref = await _say(storage, ref, meeting, [_line(1, "#startmeeting spool"),
                                        *(_line(n, f"said {n}") for n in range(2, 50))])
    assert ref.id is not None
    publisher = Publisher(storage, tmp_path / "out")
    while await publisher.warm(ref.id, meeting):
        pass
    spool = publisher._spools[ref.id]
    assert spool.upto == 49
    await _say(storage, ref, meeting, [_line(50, "said 50")])
    await publisher.publish(ref.id, meeting)
    assert spool.upto == 49
    assert not spool.stale(meeting)
    assert "said 50" in next((tmp_path / "out").rglob("*.log.txt")).read_text()
    await storage.close()
