"""hcoop-meetbot's commands that MeetBot lacks: #failed and #inconclusive (decisions in
its minutes) and #here (attendance, with an alias that action items then match)."""

from __future__ import annotations

from openminutes.meetings.model import ItemKind
from openminutes.meetings.registry import Context, Plugin

plugin = Plugin("hcoop")
FAILED = plugin.kind(ItemKind("failed", decision=True))
INCONCLUSIVE = plugin.kind(ItemKind("inconclusive", decision=True))

plugin.item_command(FAILED, "TEXT", "record that something failed (was not approved)",
                    chair_only=True, may_be_empty=True)
plugin.item_command(INCONCLUSIVE, "TEXT", "record a decision that could not be made",
                    chair_only=True, may_be_empty=True)


@plugin.command("here", help="#here [ALIAS]: say you are present; ALIAS (your name, say) "
                             "then owns action items as your nick does")
def here(ctx: Context) -> None:
    ctx.meeting.attend(ctx.line.nick, ctx.args)
