"""Applying a line to a meeting: the single code path for live use, replay and import."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from openminutes.meetings.commands import ParsedCommand, parse_command, starts_with_url
from openminutes.meetings.model import Item, ItemKind, Line, LineKind, part_id
from openminutes.meetings.nicks import fold
from openminutes.meetings.registry import Context, Outcome, Registry
from openminutes.meetings.state import Meeting

START_COMMAND = "startmeeting"
END_COMMAND = "endmeeting"


class _NotParsed:
    """The caller has not parsed the line: the engine does."""


NOT_PARSED = _NotParsed()
Parsed = ParsedCommand | None | _NotParsed


class Engine:
    """Applies a line to a meeting: records it, runs the command it carries (looked up in
    the registry, permission checked) and returns what the outside world should do. The
    one code path for live use, replay, import and render; pure and deterministic."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def starts_meeting(self, line: Line, prefixes: tuple[str, ...],
                       parsed: Parsed = NOT_PARSED) -> bool:
        """Whether a line outside any meeting opens one (`parsed`: its command, when the
        caller has parsed it already with the same prefixes)."""
        if line.own or not line.kind.is_speech:
            return False
        if isinstance(parsed, _NotParsed):
            parsed = parse_command(line.text, prefixes)
        if parsed is None:
            return False
        cmd = self.registry.lookup(parsed.name)
        return cmd is not None and cmd.name == START_COMMAND

    def apply(self, meeting: Meeting, line: Line, parsed: Parsed = NOT_PARSED) -> Outcome:
        """Record a line and run the command it carries. Deterministic: time comes from the
        line. `parsed`: its command, when the caller parsed it with the meeting's prefixes
        (a line is parsed once on its way in)."""
        outcome = Outcome()
        meeting.record(line)
        if line.kind is LineKind.EDIT:
            self._edit(meeting, line)
            return outcome
        if line.kind is LineKind.REDACTION:
            self._redact(meeting, line)
            return outcome
        if line.kind is LineKind.CLOSE and meeting.started and not meeting.ended:
            # Closed from outside (an imported log that never ends, or the bot ending a
            # meeting left open too long): as #endmeeting would.
            meeting.end_vote(line, by_meeting_end=True)
            meeting.ended_at = line.time
            outcome.replies.append(f"Meeting ended: {line.text}")
            outcome.ended = outcome.publish = True
            return outcome
        if line.own or not line.kind.is_speech or meeting.ended:
            return outcome
        if isinstance(parsed, _NotParsed):
            parsed = parse_command(line.text, meeting.prefixes)
        self._said(meeting, line, parsed, outcome)
        if meeting.lurking:  # MeetBot: lurking, it neither replies nor changes the topic
            outcome.replies.clear()
            outcome.topic = None
        return outcome

    def _said(self, meeting: Meeting, line: Line, parsed: ParsedCommand | None,
              outcome: Outcome) -> None:
        """What a line someone said does: the command it carries, else what plain lines
        do (a URL is a link; plugins' listeners see it)."""
        if parsed is None:
            if meeting.started:
                if starts_with_url(line.text):
                    meeting.add_item(ItemKind.LINK, line, line.text.strip())
                if self.registry.listeners:  # every line passes here: no context for none
                    ctx = Context(meeting, line, "", line.text.strip(), outcome, self.registry)
                    for listener in self.registry.listeners:
                        listener(ctx)
            return
        cmd = self.registry.lookup(parsed.name)
        if cmd is None or (not meeting.started and cmd.name != START_COMMAND):
            return
        ctx = Context(meeting, line, parsed.name, parsed.args, outcome, self.registry)
        if cmd.chair_only and not self._may_chair(meeting, line, cmd.name):
            self._refuse(ctx)
        else:
            cmd.handler(ctx)

    @staticmethod
    def _parts(meeting: Meeting, event_id: str | None) -> list[Line]:
        """The lines one (possibly multi-line) message made, as shown now."""
        found: list[Line] = []
        while event_id is not None:
            line = meeting.event_line(part_id(event_id, len(found)))
            if line is None:
                break
            found.append(meeting.as_shown(line))
        return found

    def _edit(self, meeting: Meeting, edit: Line) -> None:
        """A correction by the sender: the lines show the new text, and an item the line
        made takes the new wording. An edit never runs a command that was not said."""
        parts = self._parts(meeting, edit.relates_to)
        if not parts:
            return
        first = parts[0]
        same_sender = (first.identity == edit.identity if edit.identity
                       else fold(first.nick) == fold(edit.nick))
        if not same_sender or not first.kind.is_speech:
            return
        pieces = edit.text.split("\n")
        for i, old in enumerate(parts):
            last = i == len(parts) - 1
            text = " ".join(pieces[i:]) if last else (pieces[i] if i < len(pieces) else "")
            meeting.correct(old._replace(text=text, edited=True))
            self._reword_items(meeting, old.seq, text)

    def _reword_items(self, meeting: Meeting, seq: int, text: str) -> None:
        parsed = parse_command(text, meeting.prefixes)
        cmd = self.registry.lookup(parsed.name) if parsed is not None else None
        kept: list[Item] = []
        for item in meeting.items:
            if item.line != seq or not item.kind.follows_edits:
                kept.append(item)
            elif cmd is not None and parsed is not None and cmd.name == item.command \
                    and parsed.args:
                kept.append(replace(item, text=parsed.args))
            elif not item.command and parsed is None and starts_with_url(text):
                kept.append(replace(item, text=text.strip()))
            # else the command was edited away, and its item leaves the minutes
        meeting.items = kept

    def _redact(self, meeting: Meeting, redaction: Line) -> None:
        """A removed message leaves a tombstone; its text, its edits and its items go."""
        parts = self._parts(meeting, redaction.relates_to)
        if not parts:
            return
        removed = {line.seq for line in parts}
        for old in parts:
            meeting.correct(old._replace(kind=LineKind.REDACTED, text="", edited=False))
            for edit in meeting.edits.get(old.event_id or "", ()):
                meeting.correct(edit._replace(text=""))
        meeting.items = [i for i in meeting.items
                         if i.line not in removed or not i.kind.follows_edits]

    def replay(self, meeting: Meeting, lines: Iterable[Line]) -> Meeting:
        """Rebuild a meeting from its stored lines; replies are dropped."""
        for line in lines:
            self.apply(meeting, line)
        return meeting

    @staticmethod
    def _may_chair(meeting: Meeting, line: Line, name: str) -> bool:
        if meeting.is_chair(line):
            return True
        return name == END_COMMAND and meeting.overran(line.time)

    @staticmethod
    def _refuse(ctx: Context) -> None:
        """Tell a non-chair once per meeting, so a confused user cannot make the bot flood."""
        key = ctx.meeting.key_of(ctx.line.nick, ctx.line.identity)
        if key in ctx.meeting.warned:
            return
        ctx.meeting.warned.add(key)
        chairs = " ".join(ctx.meeting.chair_nicks())
        ctx.reply(f"{ctx.line.nick}: #{ctx.command} is for chairs only (chairs: {chairs}).")
