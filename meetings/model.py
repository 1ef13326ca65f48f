"""Value objects of a meeting: the lines it is built from and the items it produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class LineKind(StrEnum):
    """What a stored line is; only messages and actions are said by someone."""

    MESSAGE = "message"
    ACTION = "action"  # /me
    NOTICE = "notice"
    JOIN = "join"
    PART = "part"
    QUIT = "quit"
    NICK = "nick"  # text holds the new nick
    TOPIC = "topic"  # the channel topic changed
    GAP = "gap"  # the recorder was offline; text says from when to when
    CLOSE = "close"  # the meeting was closed without #endmeeting; text says why
    EDIT = "edit"  # a correction of the line whose event is relates_to; text is the new text
    REDACTION = "redaction"  # the line whose event is relates_to was removed
    REDACTED = "redacted"  # shown in place of a removed line; never stored as such

    @property
    def is_speech(self) -> bool:
        return self in (LineKind.MESSAGE, LineKind.ACTION)


class Line(NamedTuple):
    """One line of a meeting as stored. Time is UTC and comes from the server when it can.

    A NamedTuple rather than a frozen dataclass: every line said in a meeting makes one,
    and a tuple is several times cheaper to build."""

    seq: int
    time: datetime
    kind: LineKind
    nick: str
    text: str
    identity: str | None = None  # services account or Matrix user id, when known
    own: bool = False  # said by the bot itself
    event_id: str | None = None
    privileged: bool = False  # the network ranks the sender as a chair (Matrix power level)
    relates_to: str | None = None  # the event an edit or a redaction is about
    edited: bool = False  # shown text is a later correction; derived, not stored


def part_id(event_id: str, index: int) -> str:
    """The event id of line `index` of a multi-line message (the first keeps the id)."""
    return event_id if index == 0 else f"{event_id}|{index + 1}"


class ItemKind(StrEnum):
    """The kinds of minutes items, named as in MeetBot's output."""

    TOPIC = "topic"
    INFO = "info"
    ACTION = "action"
    AGREED = "agreed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IDEA = "idea"
    LINK = "link"
    HELP = "help"
    VOTE = "vote"  # the result of a vote

    @property
    def label(self) -> str:
        return self.value.upper()

    @property
    def is_decision(self) -> bool:
        return self in DECISIONS


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of the minutes, pointing at the log line that made it."""

    kind: ItemKind
    text: str
    nick: str
    time: datetime
    line: int

    def describe(self) -> str:
        return f"{self.kind.label}: {self.text}" if self.text else self.kind.label


DECISIONS = frozenset({ItemKind.AGREED, ItemKind.ACCEPTED, ItemKind.REJECTED, ItemKind.VOTE})
