"""A plugin as a project would write one: `#decision-deadline DATE TEXT` records a
decision that is due by DATE. Everything about it is declared here."""

from __future__ import annotations

from datetime import date

from openminutes.meetings.model import ItemKind
from openminutes.meetings.registry import Context, Plugin

plugin = Plugin("deadlines")
DEADLINE = plugin.kind(ItemKind("decision-deadline", label="DEADLINE", decision=True))
USAGE = "DATE TEXT"


@plugin.command("decision-deadline", chair_only=True, useful=True, kind=DEADLINE,
                help=f"#decision-deadline {USAGE}: record a decision due by DATE (YYYY-MM-DD)")
def decision_deadline(ctx: Context) -> None:
    due, _, text = ctx.args.partition(" ")
    try:
        date.fromisoformat(due)
    except ValueError:
        due = ""
    if not due or not text.strip():
        ctx.reply(f"Usage: {ctx.meeting.prefixes[0]}{ctx.command} {USAGE}")
        return
    ctx.meeting.add_item(DEADLINE, ctx.line, f"{text.strip()} (due {due})", ctx.command)
