"""Amendments: corrections an operator makes to a meeting's record after it ended, kept
as events beside the log and applied after every replay (pure: no I/O, no clock).

Only a redaction touches a stored line (its text is blanked, and replay then finds
nothing in it); the others change what the minutes make of the lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from openminutes.meetings.commands import parse_command
from openminutes.meetings.model import (
    Action,
    Amendment,
    AmendmentError,
    Applied,
    Item,
    ItemKind,
    Line,
    LineKind,
)
from openminutes.meetings.state import Meeting


def redacted_lines(amendments: Iterable[Amendment]) -> dict[int, str]:
    """The lines whose text replay must not see, by seq, with what is left of each (as
    stored once the redaction is: "", or the command word that started or ended the
    meeting)."""
    return {a.line: a.text for a in amendments if a.action is Action.REDACT}


def apply_amendments(meeting: Meeting, amendments: Iterable[Amendment],
                     lines: Mapping[int, Line], kinds: Iterable[ItemKind]) -> None:
    """Apply amendments, in order, to a replayed meeting. `lines`: the stored lines they
    are about, by seq; `kinds`: the registry's item kinds. One that cannot apply changes
    nothing and is listed with the reason (`Applied.error`)."""
    known = {kind.name: kind for kind in kinds}
    for amendment in amendments:
        line = lines.get(amendment.line)
        try:
            if line is None:
                raise AmendmentError(f"the meeting has no line {amendment.line}")
            change = _APPLY[amendment.action](meeting, amendment, meeting.as_shown(line),
                                              known)
        except AmendmentError as exc:
            meeting.amendments.append(Applied(amendment, f"line {amendment.line}: not "
                                              f"applied: {exc}", str(exc)))
            continue
        meeting.amendments.append(Applied(amendment, f"line {amendment.line}: {change}"))


def _items_of(meeting: Meeting, seq: int) -> list[Item]:
    return [item for item in meeting.items if item.line == seq]


def _without(meeting: Meeting, seq: int) -> None:
    """The items (and a vote, with its result) a line made leave the minutes."""
    meeting.items = [item for item in meeting.items if item.line != seq]
    meeting.votes = [vote for vote in meeting.votes if vote.end_line != seq]


def _shown(items: list[Item]) -> str:
    return "; ".join(item.describe() for item in items) or "a plain line"


def _redact(meeting: Meeting, amendment: Amendment, line: Line,
            _kinds: Mapping[str, ItemKind]) -> str:
    if line.kind is LineKind.REDACTED:
        raise AmendmentError(f"line {amendment.line} was removed already")
    _without(meeting, amendment.line)  # replay of the blanked line made none, as a rule
    meeting.correct(line._replace(kind=LineKind.REDACTED, text=amendment.reason,
                                  edited=False))
    for edit in meeting.edits.get(line.event_id or "", ()):
        meeting.correct(edit._replace(text=""))
    return "removed"  # never what it said


def _spoken(line: Line, seq: int) -> None:
    if line.kind is LineKind.REDACTED:
        raise AmendmentError(f"line {seq} was removed; it can make no item")
    if not line.kind.is_speech or line.own:
        raise AmendmentError(f"line {seq} is not something a participant said")


def _retag(meeting: Meeting, amendment: Amendment, line: Line,
           kinds: Mapping[str, ItemKind]) -> str:
    _spoken(line, amendment.line)
    kind = kinds.get(amendment.kind)
    if kind is None:
        raise AmendmentError(f"no item kind {amendment.kind!r}; one of "
                             f"{', '.join(sorted(n for n in kinds if n != 'vote'))}")
    before = _items_of(meeting, amendment.line)
    if kind == ItemKind.VOTE or any(item.kind == ItemKind.VOTE for item in before):
        raise AmendmentError("a vote and its result are made by #startvote and #endvote; "
                             "untag the result instead")
    text = amendment.text.strip() or _words(line, meeting.prefixes)
    if not text and kind.labelled is False:
        raise AmendmentError(f"line {amendment.line} has no words for a {kind.name}")
    item = Item(kind, text, line.nick, line.time, line.seq)
    kept = [i for i in meeting.items if i.line != amendment.line]
    at = next((n for n, i in enumerate(kept) if i.line > amendment.line), len(kept))
    meeting.items = [*kept[:at], item, *kept[at:]]
    return f"{_shown(before)} → {item.describe()}"


def _words(line: Line, prefixes: tuple[str, ...]) -> str:
    """What a line says without the command it starts with."""
    parsed = parse_command(line.text, prefixes)
    return (parsed.args if parsed is not None else line.text).strip()


def _untag(meeting: Meeting, amendment: Amendment, line: Line,
           _kinds: Mapping[str, ItemKind]) -> str:
    before = _items_of(meeting, amendment.line)
    if not before:
        raise AmendmentError(f"line {amendment.line} made no item")
    _without(meeting, amendment.line)
    return f"{_shown(before)} → a plain line"


def _owners(meeting: Meeting, amendment: Amendment, line: Line,
            _kinds: Mapping[str, ItemKind]) -> str:
    found = next((a for a in meeting.actions() if a.item.line == amendment.line), None)
    if found is None:
        raise AmendmentError(f"line {amendment.line} made no action item")
    if not amendment.owners:
        raise AmendmentError("name at least one owner")
    meeting.owners_set[amendment.line] = tuple(dict.fromkeys(amendment.owners))
    before = ", ".join(found.owners) or "unassigned"
    return f"owners of ACTION: {found.item.text}: {before} → {', '.join(amendment.owners)}"


_APPLY = {Action.REDACT: _redact, Action.RETAG: _retag, Action.UNTAG: _untag,
          Action.OWNERS: _owners}
