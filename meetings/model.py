"""Value objects of a meeting: the lines it is built from and the items it produces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, NamedTuple


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


_KIND_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class ItemKind:
    """A kind of minutes item: data, declared by the plugin whose commands make it, and
    stored and searched by its name. The kinds the engine itself relies on are below."""

    name: str  # as stored, searched and in the JSON: "agreed", "decision-deadline"
    label: str = ""  # as the minutes show it ("AGREED:"); default: the name, upper case
    decision: bool = False  # in the decision register, the feeds and the webhooks
    labelled: bool = True  # the label stands before the text (not for info and topics)
    follows_edits: bool = True  # an edit of its line rewords it (a vote's result: not)

    TOPIC: ClassVar[ItemKind]
    INFO: ClassVar[ItemKind]
    ACTION: ClassVar[ItemKind]
    LINK: ClassVar[ItemKind]
    VOTE: ClassVar[ItemKind]

    def __post_init__(self) -> None:
        if not _KIND_NAME.fullmatch(self.name):
            raise ValueError(f"item kind {self.name!r}: a lower-case word of at most 64 "
                             "letters, digits, '-' and '_'")
        if not self.label:
            object.__setattr__(self, "label", self.name.upper())

    def __str__(self) -> str:
        return self.name

    @property
    def is_decision(self) -> bool:
        return self.decision


# Kinds the engine and the outputs know by name: minutes are grouped by topic, a line that
# starts with a URL is a link, action items have owners, a vote's result is a decision.
ItemKind.TOPIC = ItemKind("topic", labelled=False)
ItemKind.INFO = ItemKind("info", labelled=False)
ItemKind.ACTION = ItemKind("action")
ItemKind.LINK = ItemKind("link")
ItemKind.VOTE = ItemKind("vote", decision=True, follows_edits=False)
CORE_KINDS = (ItemKind.TOPIC, ItemKind.INFO, ItemKind.ACTION, ItemKind.LINK, ItemKind.VOTE)


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of the minutes, pointing at the log line that made it."""

    kind: ItemKind
    text: str
    nick: str
    time: datetime
    line: int
    command: str = ""  # the command that made it (an edit keeps it only if still that)

    def describe(self) -> str:
        return f"{self.kind.label}: {self.text}" if self.text else self.kind.label


class Action(StrEnum):
    """What an amendment does (meetings/amendments.py applies them)."""

    REDACT = "redact"  # the line's text is removed for good; the log says why
    RETAG = "retag"  # the line makes an item of another kind (or a plain line one)
    UNTAG = "untag"  # the line makes no item any more
    OWNERS = "owners"  # the action item of the line is owned by these nicks


class AmendmentError(ValueError):
    """An amendment that cannot apply to this meeting; the message says why."""


@dataclass(frozen=True, slots=True)
class Amendment:
    action: Action
    line: int  # the seq of the log line it is about
    by: str  # the operator
    at: datetime
    reason: str
    kind: str = ""  # retag: the new kind
    text: str = ""  # retag: the item's text ("": the line's own words); redact: what is
    # kept of the line (the command word of the line that started or ended the meeting)
    owners: tuple[str, ...] = ()  # owners: the nicks
    digest: str = ""  # redact: SHA-256 of the removed text; never published
    change: str = ""  # what it changed, in words, when it was made (feeds, `amend list`)
    id: int | None = None  # once stored


@dataclass(frozen=True, slots=True)
class Applied:
    """An amendment as the minutes list it: what changed, in words (never the removed
    text of a redaction), or why it no longer applies (a later correction of the log
    took away what it was about)."""

    amendment: Amendment
    change: str
    error: str = ""
