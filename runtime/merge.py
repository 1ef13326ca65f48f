"""Which of the lines a standby heard its room's last recorder never stored: pure, so
that takeovers are tested line by line (tests/test_group.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import Line

# Two processes stamp a line they both heard with their own clocks where the server
# sends no time: this far apart, the same sender, kind and text are the same line.
SKEW = timedelta(seconds=5)


def _same(stored: Line, heard: ChatEvent) -> bool:
    return (stored.kind is heard.kind and stored.nick == heard.nick
            and stored.text == heard.text and abs(stored.time - heard.time) <= SKEW)


def unstored(tail: Sequence[Line], heard: Sequence[ChatEvent]) -> list[ChatEvent]:
    """The heard lines after the last one the stored tail holds, in the order heard.

    Matched by event id (IRCv3 msgid, server-time stamp, Matrix event id) where the line
    has one, otherwise by aligning sender, kind and text in order, within SKEW in time.
    The recorder stores lines in the order it hears them, so what it never stored is a
    suffix of what the standby heard; the bot's own lines are not compared (the standby
    does not keep them)."""
    stored = [line for line in tail if not line.own]
    by_id = {line.event_id: i for i, line in enumerate(stored) if line.event_id}
    next_free = 0  # the first stored line an alignment may still use
    last_held = -1  # the last heard line the tail holds
    for i, event in enumerate(heard):
        found = by_id.get(event.event_id) if event.event_id else None
        if found is None:
            for j in range(next_free, len(stored)):
                if stored[j].time > event.time + SKEW:
                    break
                if _same(stored[j], event):
                    found = j
                    break
        if found is not None:
            next_free = max(next_free, found + 1)
            last_held = i
    return list(heard[last_held + 1:])
