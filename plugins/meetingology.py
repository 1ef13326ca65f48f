"""meetingology's (Ubuntu) commands besides MeetBot's: #subtopic (alias #progress) and
#votesrequired N. Its `#vote TOPIC` and `+1`/`-1`/`+0` ballots live with the other votes
(plugins/votes.py); its Mootbot spellings `[TOPIC]` are read by parse_command."""

from __future__ import annotations

from dataclasses import replace

from openminutes.meetings.model import ItemKind
from openminutes.meetings.registry import Context, Plugin

plugin = Plugin("meetingology")
SUBTOPIC = plugin.kind(ItemKind("subtopic"))

plugin.item_command(SUBTOPIC, "TEXT", "record a subtopic of the current topic",
                    aliases=("progress",), chair_only=True)


@plugin.command("votesrequired", chair_only=True,
                help="#votesrequired N: a motion passes only with at least N votes in favour")
def votesrequired(ctx: Context) -> None:
    m = ctx.meeting
    try:
        needed = int(ctx.args)
        if needed < 0:
            raise ValueError(needed)
    except ValueError:
        ctx.reply(f"Usage: {m.prefixes[0]}votesrequired N")
        return
    m.set_vote_rule(replace(m.vote_rule(), yes_required=needed))
    ctx.reply(f"Votes in favour required: {needed}")
