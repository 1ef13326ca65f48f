"""A local text-mode chat in the terminal, for trying the bot without any server."""

from __future__ import annotations

import asyncio
import getpass
import sys
from datetime import UTC, datetime

from openminutes.chat.base import ChatEvent, EventSink, clean_text
from openminutes.meetings.model import LineKind

ROOM = "#console"
HELP = ("Type chat lines as yourself (try #startmeeting). /as NAME [TEXT] speaks as another "
        "person (from now on, or for one line), /nick NAME changes your nick, /me TEXT is an "
        "action, /quit or Ctrl-D leaves.")


class ConsoleAdapter:
    """A local text chat on the terminal, for trying the bot without a server."""

    name = "console"
    replays_missed = False

    def __init__(self, bot_nick: str = "openminutes") -> None:
        try:
            self.speaker = getpass.getuser()
        except (KeyError, OSError):
            self.speaker = "you"
        self._bot_nick = bot_nick
        self._done = asyncio.Event()
        self._topic = ""
        self._topics: dict[str, str] = {}  # room -> the topic a meeting replaced

    @property
    def nick(self) -> str:
        return self._bot_nick

    async def run(self, sink: EventSink) -> None:
        interactive = sys.stdin.isatty()
        if interactive:
            print(f"openminutes console in {ROOM}. {HELP}", flush=True)
        while not self._done.is_set():
            raw = await asyncio.to_thread(sys.stdin.readline)
            if not raw:
                break
            text = raw.rstrip("\r\n")
            if not self._command(text, sink):
                sink(self._event(LineKind.MESSAGE, text))
        self._done.set()

    def _command(self, text: str, sink: EventSink) -> bool:
        if text.startswith("/as "):
            name, _, said = text[4:].strip().partition(" ")
            if name and said.strip():
                sink(self._event(LineKind.MESSAGE, said, speaker=name))
            elif name:
                self.speaker = name  # someone else at the keyboard: no nick change
            return True
        if text.startswith("/nick "):
            new = text[6:].strip()
            if new:
                sink(self._event(LineKind.NICK, new))
                self.speaker = new
            return True
        if text.startswith("/me "):
            sink(self._event(LineKind.ACTION, text[4:]))
            return True
        if text.strip() == "/quit":
            self._done.set()
            return True
        return False

    def _event(self, kind: LineKind, text: str, speaker: str = "") -> ChatEvent:
        return ChatEvent(self.name, ROOM, speaker or self.speaker, clean_text(text), kind,
                         datetime.now(UTC))

    def say(self, room: str, text: str, *, urgent: bool = False) -> None:
        print(f"<{self._bot_nick}> {text}", flush=True)

    def set_topic(self, room: str, text: str) -> None:
        self._topics.setdefault(room, self._topic)
        self._topic = text
        print(f"-!- {self._bot_nick} changed the topic of {room} to: {text}", flush=True)

    def restore_topic(self, room: str) -> None:
        if room in self._topics:
            self._topic = self._topics.pop(room)
            print(f"-!- {self._bot_nick} changed the topic of {room} to: {self._topic}",
                  flush=True)

    async def close(self) -> None:
        self._done.set()
