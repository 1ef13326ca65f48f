"""Shared helpers for tests: running transcripts through the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line
from openminutes.meetings.state import Meeting, MeetingSettings
from openminutes.meetings.transcript import parse_lines
from openminutes.plugins import default_registry
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"


class Room:
    """Stands in for a chat network where a test only needs what the bot said."""

    nick = "bot"
    replays_missed = False

    def __init__(self) -> None:
        self.said: list[str] = []
        self.topics: list[str | None] = []  # None: the earlier topic put back

    def say(self, room: str, text: str, *, urgent: bool = False) -> None:
        self.said.append(text)

    def set_topic(self, room: str, text: str) -> None:
        self.topics.append(text)

    def restore_topic(self, room: str) -> None:
        self.topics.append(None)


def recording(storage: Storage, publisher: Publisher,
              settings: MeetingSettings | None = None) -> tuple[Recorder, asyncio.Task[None]]:
    """A recorder running over real storage and a real publisher, its network "net" a
    Room; cancel the task when done."""
    recorder = Recorder(storage, Engine(default_registry()), publisher,
                        settings or MeetingSettings())
    recorder.senders["net"] = Room()
    return recorder, asyncio.create_task(recorder.run())


@dataclass
class Run:
    meeting: Meeting
    replies: list[tuple[Line, list[str]]] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        """The lines fed in (the meeting itself keeps them only in storage)."""
        return [line for line, _ in self.replies]

    @property
    def log(self) -> list[Line]:
        """The lines as the log shows them, corrections applied."""
        return [self.meeting.as_shown(line) for line in self.lines]

    def replies_to(self, seq: int) -> list[str]:
        return next(r for ln, r in self.replies if ln.seq == seq)

    @property
    def all_replies(self) -> list[str]:
        return [text for _, texts in self.replies for text in texts]


def run_lines(lines: Iterable[Line], *, channel: str = "#test",
              settings: MeetingSettings | None = None) -> Run:
    engine = Engine(default_registry())
    run = Run(Meeting("test", channel, settings or MeetingSettings()))
    for line in lines:
        run.replies.append((line, engine.apply(run.meeting, line).replies))
    return run


def run_transcript(text: str, *, day: date = date(2016, 3, 2), channel: str = "#test",
                   settings: MeetingSettings | None = None) -> Run:
    return run_lines(parse_lines(text.splitlines(), day, strict=True), channel=channel,
                     settings=settings)


def minutes_json_files(minutes: Path) -> list[Path]:
    """The meetings' JSON minutes under a publish dir, without the series' decision
    registers (decisions.json, decisions-YYYY.json)."""
    return sorted(p for p in minutes.rglob("*.json") if not p.name.startswith("decisions"))
