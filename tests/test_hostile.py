"""Hostile names and text: files stay inside the publish dir, output stays valid and inert."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openminutes.chat.base import ChatEvent, clean_text
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import LineKind
from openminutes.meetings.state import MeetingSettings
from openminutes.plugins import default_registry
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from tests.helpers import Room, run_transcript

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["../../x", "a/../../b", "%c" * 40, "n" * 300, "a\x00b",
                                  "..", "%Y-%m-%d", "<script>", "/etc/passwd", "C:\\x"])
async def test_hostile_meeting_names_stay_inside(name: str, tmp_path: Path) -> None:
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    out = tmp_path / "minutes"
    recorder = Recorder(storage, Engine(default_registry()), Publisher(storage, out),
                        MeetingSettings())
    room = Room()
    recorder.senders["net"] = room
    task = asyncio.create_task(recorder.run())
    for text in (f"#startmeeting {name}", f"#meetingname {name}", "#endmeeting"):
        recorder.submit(ChatEvent("net", "#c", "chair", clean_text(text), LineKind.MESSAGE, T0))
    await recorder.drained()
    task.cancel()
    files = await asyncio.to_thread(lambda: [p for p in tmp_path.rglob("*") if p.is_file()])
    published = [p for p in files if p.suffix in (".html", ".txt", ".md", ".json")]
    assert published, room.said
    for path in published:
        assert path.resolve().is_relative_to(out.resolve())
        assert len(path.name) < 140
        assert "%" not in path.name
    (record,) = await storage.meetings()
    assert record.ended_at is not None
    await storage.close()


def test_text_cleaning() -> None:
    assert clean_text("\x0304,121234 apples") == "1234 apples"  # colour 04,12 then digits
    assert clean_text("\x03041234") == "1234"
    assert clean_text("bad \ud800 surrogate") == "bad \ufffd surrogate"
    assert clean_text("a\x00b\rc\nd") == "abcd"
    # Bidi controls are kept, and closed at the end of the text so that they cannot
    # reorder what follows on the same line.
    assert clean_text("\u202eevil\u200b") == "\u202eevil\u200b\u202c"
    assert clean_text("\u2067a\u202eb\u2069c") == "\u2067a\u202eb\u2069c"
    assert clean_text("\u2066\u202bx") == "\u2066\u202bx\u202c\u2069"
    # Line and paragraph separators and NEL become spaces; C1 controls go.
    assert clean_text("a\u2028b\u2029c\x85d") == "a b c d"
    assert clean_text("x\x9by\x80z\x9f") == "xyz"


def test_bogus_commands_get_no_reply() -> None:
    lines = "".join(f"10:00:{n % 60:02d} <troll> #bogus{n}\n10:00:{n % 60:02d} <troll> #{n}\n"
                    for n in range(100))
    run = run_transcript("10:00:00 <chair> #startmeeting\n" + lines)
    assert run.all_replies[3:] == []
    assert run.meeting.items == []
