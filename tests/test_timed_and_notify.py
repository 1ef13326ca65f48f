"""Reminders and auto-end with an injected clock, against real storage; webhooks received by
a real local aiohttp server and email by a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import LineKind
from openminutes.meetings.state import MeetingSettings
from openminutes.notify import Notifier
from openminutes.notify.webhooks import SIGNATURE_HEADER, signature
from openminutes.runtime.config import EmailConfig, NotifyConfig, WebhookConfig
from openminutes.runtime.recorder import Recorder, Sender
from openminutes.runtime.timekeeper import REMINDER_GRACE, Timekeeper
from openminutes.schedules.model import load_dir
from openminutes.schedules.recurrence import SeriesSchedule
from openminutes.storage import Storage
from tests.helpers import Room
from tests.servers import free_port
from tests.test_recorder import _recorder

EXAMPLES = Path(__file__).parent / "schedules"
TC_MEETS = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # a Thursday of the TC's weekly slot


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _keeper(storage: Storage, recorder: Recorder, room: Room, clock: Clock) -> Timekeeper:
    def targets(name: str) -> list[tuple[Sender, str]]:
        return [(room, name)]

    return Timekeeper(recorder, load_dir(EXAMPLES), storage, targets, reminder_minutes=15,
                      auto_end=True, clock=clock)


async def test_reminder_once_never_late_and_not_for_skipped_or_adhoc(
    storage: Storage, tmp_path: Path
) -> None:
    recorder, room = _recorder(storage, tmp_path)
    clock = Clock(TC_MEETS - timedelta(minutes=20))
    keeper = _keeper(storage, recorder, room, clock)
    upcoming = await keeper.tick()
    assert room.said == []
    assert upcoming == TC_MEETS - timedelta(minutes=15)
    clock.now = TC_MEETS - timedelta(minutes=15)
    await keeper.tick()
    assert room.said == [
        "Reminder: Technical Committee Meeting (tc) starts at 15:00 UTC, in 15 minutes. "
        "Agenda: https://wiki.example.org/Meetings/TechnicalCommittee Chair: Jane Doe (jdoe)"]
    # A restart a minute later: the reminder was written down, it is not sent again.
    clock.now += timedelta(minutes=1)
    await _keeper(storage, recorder, room, clock).tick()
    assert len(room.said) == 1
    # The bot was down when next week's reminder was due: it is not sent late.
    clock.now = TC_MEETS + timedelta(days=7) - timedelta(minutes=15) + REMINDER_GRACE * 2
    await _keeper(storage, recorder, room, clock).tick()
    assert len(room.said) == 1
    # 24 December is a skip date: no reminder; ad hoc series never get one.
    clock.now = datetime(2026, 12, 24, 14, 45, tzinfo=UTC)
    await keeper.tick()
    assert len(room.said) == 1
    assert not any("Security" in s for s in room.said)


async def test_in_a_group_only_the_recorder_of_the_room_reminds_and_marks_it_sent(
    storage: Storage, tmp_path: Path
) -> None:
    """A standby (no target: it does not record the room) must not mark the reminder
    sent, or the recorder would skip it."""
    recorder, room = _recorder(storage, tmp_path)
    clock = Clock(TC_MEETS - timedelta(minutes=15))
    standby = Timekeeper(recorder, load_dir(EXAMPLES), storage, lambda _name: [],
                         reminder_minutes=15, auto_end=True, clock=clock)
    await standby.tick()
    assert room.said == []
    await _keeper(storage, recorder, room, clock).tick()
    assert len(room.said) == 1
    assert room.said[0].startswith("Reminder: Technical Committee Meeting (tc)")


async def test_a_meeting_left_open_is_ended_by_the_bot_even_across_a_restart(
    storage: Storage, tmp_path: Path
) -> None:
    settings = MeetingSettings(schedule=SeriesSchedule(load_dir(EXAMPLES)))
    recorder, room = _recorder(storage, tmp_path, settings)
    task = asyncio.create_task(recorder.run())
    recorder.submit(ChatEvent("net", "#openstack-tc", "jdoe", "#startmeeting", LineKind.MESSAGE,
                              TC_MEETS))
    recorder.submit(ChatEvent("net", "#openstack-tc", "jdoe", "#agreed keep going",
                              LineKind.MESSAGE, TC_MEETS + timedelta(minutes=5)))
    await recorder.drained()
    task.cancel()
    clock = Clock(TC_MEETS + timedelta(minutes=119))  # the limit: twice the 60 minutes
    await _keeper(storage, recorder, room, clock).tick()
    assert not any("ended by the bot" in s for s in room.said)
    # The bot was down past the limit; a new run ends the meeting at start.
    recorder, room = _recorder(storage, tmp_path, settings)
    await recorder.resume()
    task = asyncio.create_task(recorder.run())
    clock.now = TC_MEETS + timedelta(hours=5)
    await _keeper(storage, recorder, room, clock).tick()
    await recorder.drained()
    task.cancel()
    assert await storage.open_meetings() == []
    assert "Meeting ended: ended by the bot: still open after twice its scheduled 60 minutes" \
        in room.said
    (minutes,) = tmp_path.rglob("tc.*.json")  # noqa: ASYNC240 (a test, after the fact)
    data = json.loads(minutes.read_text())
    assert data["name"] == "tc"
    assert data["ended_at"]
    assert data["log"][-1]["kind"] == "close"
    assert [i["text"] for i in data["items"]] == ["keep going"]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A real HTTP server that fails the first POST (to make the bot retry)."""
    received: list[tuple[dict[str, str], bytes]] = []
    failed: list[bool] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if not failed:
            failed.append(True)
            return web.Response(status=503)
        received.append((dict(request.headers), body))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


async def test_webhooks_and_email_when_a_meeting_starts_and_ends(
    storage: Storage, tmp_path: Path,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        notifier = Notifier(NotifyConfig(
            webhook=[WebhookConfig(url, secret="s3cret")],
            email=EmailConfig(to=["list@example.org"], sender="bot@example.org",
                              smtp_host="127.0.0.1", smtp_port=smtp.port)))
        recorder, _ = _recorder(storage, tmp_path, notifier=notifier)
        task = asyncio.create_task(recorder.run())
        t0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        for n, (nick, text) in enumerate([
            ("alice", "#startmeeting Release planning"), ("alice", "#agreed ship <b>1.0</b>"),
            ("alice", "#action bob writes notes"), ("bob", "ok"), ("alice", "#endmeeting"),
        ]):
            recorder.submit(ChatEvent("net", "#rel", nick, text, LineKind.MESSAGE,
                                      t0 + timedelta(seconds=n)))
        await recorder.drained()
        async with asyncio.timeout(30):  # the first POST failed: retried after a second
            while len(received) < 2 or not mailbox.messages:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        task.cancel()
    finally:
        smtp.stop()
    events = {}
    for headers, body in received:
        assert headers[SIGNATURE_HEADER] == signature("s3cret", body)
        payload = json.loads(body)
        events[payload["event"]] = payload
    assert sorted(events) == ["meeting.ended", "meeting.started"]
    ended = events["meeting.ended"]
    assert ended["meeting"]["title"] == "Release planning"
    assert [d["text"] for d in ended["decisions"]] == ["ship <b>1.0</b>"]
    assert [(a["text"], a["owners"]) for a in ended["actions"]] == [
        ("bob writes notes", ["bob"])]
    assert ended["minutes"]["html"].endswith(".html")
    (envelope,) = mailbox.messages
    assert envelope.rcpt_tos == ["list@example.org"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"].startswith("Minutes: Release planning (2026-11-21 #rel)")
    payload_bytes = mail.get_payload(decode=True)
    assert isinstance(payload_bytes, bytes)
    mail_text = payload_bytes.decode()
    assert "AGREED: ship <b>1.0</b>" in mail_text  # the text minutes, as text
    assert ended["minutes"]["txt"] in mail_text
