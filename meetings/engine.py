"""Applying a line to a meeting: the single code path for live use, replay and import."""

from __future__ import annotations

from collections.abc import Iterable

from meetings.commands import parse_command, starts_with_url
from meetings.model import ItemKind, Line, LineKind
from meetings.registry import Context, Outcome, Registry
from meetings.state import Meeting

START_COMMAND = "startmeeting"
END_COMMAND = "endmeeting"


class Engine:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def starts_meeting(self, line: Line, prefixes: tuple[str, ...]) -> bool:
        """Whether a line outside any meeting opens one."""
        if line.own or not line.kind.is_speech:
            return False
        parsed = parse_command(line.text, prefixes)
        if parsed is None:
            return False
        cmd = self.registry.lookup(parsed.name)
        return cmd is not None and cmd.name == START_COMMAND

    def apply(self, meeting: Meeting, line: Line) -> Outcome:
        """Record a line and run the command it carries. Deterministic: time comes from the line."""
        outcome = Outcome()
        meeting.record(line)
        if line.kind is LineKind.CLOSE and meeting.started and not meeting.ended:
            # Closed from outside (an imported log that never ends): as #endmeeting would.
            meeting.end_vote(line, by_meeting_end=True)
            meeting.ended_at = line.time
            return outcome
        if line.own or not line.kind.is_speech or meeting.ended:
            return outcome
        parsed = parse_command(line.text, meeting.settings.prefixes)
        if parsed is None:
            if meeting.started and starts_with_url(line.text):
                meeting.add_item(ItemKind.LINK, line, line.text.strip())
            return outcome
        cmd = self.registry.lookup(parsed.name)
        if cmd is None or (not meeting.started and cmd.name != START_COMMAND):
            return outcome
        ctx = Context(meeting, line, parsed.name, parsed.args, outcome, self.registry)
        if cmd.chair_only and not self._may_chair(meeting, line, cmd.name):
            self._refuse(ctx)
        else:
            cmd.handler(ctx)
        if meeting.lurking:
            outcome.replies.clear()
        return outcome

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
