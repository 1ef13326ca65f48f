"""The recorder against real storage: lines committed before acting, resume after a crash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openminutes.chat.base import ChatEvent
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import MeetingSettings
from openminutes.plugins import default_registry
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Notifications, Recorder
from openminutes.storage import Storage
from tests.helpers import Room

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def _recorder(storage: Storage, out: Path, settings: MeetingSettings | None = None,
              notifier: Notifications | None = None) -> tuple[Recorder, Room]:
    recorder = Recorder(storage, Engine(default_registry()), Publisher(storage, out),
                        settings or MeetingSettings(), notifier=notifier)
    room = Room()
    recorder.senders["net"] = room
    return recorder, room


def _event(n: int, nick: str, text: str, event_id: str | None = None) -> ChatEvent:
    return ChatEvent("net", "#c", nick, text, LineKind.MESSAGE, T0 + timedelta(seconds=n),
                     event_id=event_id)


async def test_lines_outside_meetings_are_not_recorded(storage: Storage, tmp_path: Path) -> None:
    recorder, room = _recorder(storage, tmp_path)
    task = asyncio.create_task(recorder.run())
    recorder.submit(_event(1, "a", "before the meeting"))
    recorder.submit(_event(2, "a", "#startmeeting"))
    recorder.submit(_event(3, "b", "hello", event_id="m1"))
    recorder.submit(_event(4, "b", "hello", event_id="m1"))  # a bouncer replaying it
    await recorder.drained()
    task.cancel()
    (record,) = await storage.open_meetings()
    lines = await storage.lines(record.id)
    texts = [ln.text for ln in lines if not ln.own]
    assert texts == ["#startmeeting", "hello"]
    assert any(ln.own and ln.text.startswith("Meeting started") for ln in lines)
    assert room.said[0].startswith("Meeting started")


async def test_a_meeting_whose_end_was_not_finished_is_published_on_resume(
    storage: Storage, tmp_path: Path
) -> None:
    recorder, _ = _recorder(storage, tmp_path)
    task = asyncio.create_task(recorder.run())
    recorder.submit(_event(1, "a", "#startmeeting"))
    recorder.submit(_event(2, "a", "#agreed yes"))
    await recorder.drained()
    task.cancel()
    # The #endmeeting line is committed, then the bot dies before publishing.
    om = next(iter(recorder.open.values()))
    end = Line(om.next_seq, T0 + timedelta(minutes=5), LineKind.MESSAGE, "a", "#endmeeting")
    await storage.write_lines([(om.ref, end)])

    fresh, _ = _recorder(storage, tmp_path)
    await fresh.resume()
    assert fresh.open == {}
    assert await storage.open_meetings() == []
    published = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.rglob("*.html")))
    assert {"c.2026-03-02-18.00.html", "c.2026-03-02-18.00.log.html"} <= set(published)
