"""MeetBot's command set, with MeetBot's wording where it has one."""

from __future__ import annotations

import re
import time

from openminutes.meetings.model import ItemKind
from openminutes.meetings.registry import Context, Plugin
from openminutes.meetings.state import identity_key

plugin = Plugin("meeting")
command = plugin.command

# The kinds of items MeetBot's commands make, besides the engine's own (ItemKind).
AGREED = plugin.kind(ItemKind("agreed", decision=True))
ACCEPTED = plugin.kind(ItemKind("accepted", decision=True))
REJECTED = plugin.kind(ItemKind("rejected", decision=True))
IDEA = plugin.kind(ItemKind("idea"))
HELP = plugin.kind(ItemKind("help"))


def _asctime(ctx: Context) -> str:
    # MeetBot's format: "Wed Mar  2 18:01:15 2016" (day padded with a space).
    return time.asctime(ctx.line.time.timetuple())


def _prefix(ctx: Context) -> str:
    return ctx.meeting.prefixes[0]


def _nicks(args: str) -> list[str]:
    return [n for n in re.split(r"[\s,]+", args) if n]


def _useful(ctx: Context) -> str:
    names = sorted(c.name for c in ctx.registry.commands() if c.useful)
    return " ".join(_prefix(ctx) + n for n in names)


def _set_name(ctx: Context, name: str) -> None:
    ctx.meeting.rename(name)
    ctx.reply(f"The meeting name has been set to '{ctx.meeting.name}'")


@command("startmeeting", aliases=("sm",),
         help="#startmeeting [NAME]: start a meeting; you become its chair")
def startmeeting(ctx: Context) -> None:
    m = ctx.meeting
    if m.started:
        ctx.reply(f"A meeting is already in progress here, chaired by {' '.join(m.chair_nicks())}.")
        return
    line = ctx.line
    m.started_at = line.time
    m.founder = line.nick
    m.founder_key = identity_key(line.nick, line.identity or m.accounts.get(line.nick))
    m.chairs[m.founder_key] = line.nick
    m.title = ctx.args or f"{m.channel} Meeting"
    m.titled = bool(ctx.args)
    # A Matrix room `#fedora-meeting:example.org` names its meetings `fedora-meeting`.
    m.rename(m.channel.lstrip("#!&+").split(":", 1)[0])
    ctx.reply(f"Meeting started {_asctime(ctx)} UTC.  The chair is {line.nick}.")
    ctx.reply(f"Useful Commands: {_useful(ctx)}.")
    schedule = m.settings.schedule
    slot = schedule.slot_at(m.channel, line.time) if schedule is not None else None
    if slot is not None:
        m.scheduled_minutes = slot.minutes
    if ctx.args:
        _set_name(ctx, ctx.args)
        if slot is not None and m.name != slot.meeting_id:
            ctx.reply(f"Note: {slot.project} ('{slot.meeting_id}') is scheduled "
                      f"here at {slot.start:%H:%M} UTC; this meeting is named '{m.name}'.")
    elif slot is not None:
        # Named as the schedule names it, so the schedule and the archive line up.
        m.title = slot.project
        _set_name(ctx, slot.meeting_id)


@command("endmeeting", aliases=("em",), chair_only=True,
         help="#endmeeting: end the meeting and publish the minutes")
def endmeeting(ctx: Context) -> None:
    vote = ctx.meeting.end_vote(ctx.line, by_meeting_end=True)
    if vote is not None:
        ctx.reply(f"Vote closed by #endmeeting: {vote.question} {vote.result}")
    ctx.meeting.ended_at = ctx.line.time
    ctx.outcome.ended = True
    ctx.outcome.restore_topic = True
    ctx.outcome.publish = True
    ctx.reply(f"Meeting ended {_asctime(ctx)} UTC.")


def _channel_topic(ctx: Context) -> None:
    if ctx.args:
        ctx.outcome.topic = ctx.meeting.topic_text()


# Said alone, these record an item with no text, as MeetBot's do (a bare `#help` is a
# call for help in MeetBot's minutes, not a request for the bot's help).
plugin.item_command(ItemKind.TOPIC, "TEXT", "start a new topic (and set the channel topic)",
                    aliases=("t",),  # maubot's !t
                    chair_only=True, useful=True, may_be_empty=True, then=_channel_topic)
plugin.item_command(ItemKind.INFO, "TEXT", "record a piece of information", useful=True,
                    may_be_empty=True)
plugin.item_command(ItemKind.ACTION, "TEXT", "record an action item; the people it names own it",
                    useful=True, may_be_empty=True)
plugin.item_command(AGREED, "TEXT", "record an agreement", aliases=("agree",), chair_only=True,
                    useful=True, may_be_empty=True)
plugin.item_command(ACCEPTED, "TEXT", "record that something was accepted",
                    aliases=("accept",), chair_only=True, may_be_empty=True)
plugin.item_command(REJECTED, "TEXT", "record that something was rejected",
                    aliases=("reject",), chair_only=True, may_be_empty=True)
plugin.item_command(IDEA, "TEXT", "record an idea", useful=True, may_be_empty=True)
plugin.item_command(HELP, "TEXT", "record a call for help (#commands lists the commands)",
                    aliases=("halp",), useful=True, may_be_empty=True)
plugin.item_command(ItemKind.LINK, "URL [TEXT]",
                    "record a link (a line starting with a URL counts too)", useful=True)


@command("commands", help="#commands: list the commands")
def commands_(ctx: Context) -> None:
    names = " ".join(_prefix(ctx) + c.name for c in ctx.registry.commands())
    ctx.reply(f"Available commands: {names}")


@command("meetingtopic", chair_only=True, help="#meetingtopic TEXT: set the title of the minutes")
def meetingtopic(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(f"Usage: {_prefix(ctx)}meetingtopic TEXT")
        return
    m = ctx.meeting
    m.title, m.titled = ctx.args, True
    if any(i.kind == ItemKind.TOPIC and i.text for i in m.items):
        ctx.outcome.topic = m.topic_text()  # MeetBot keeps it in the channel topic


@command("meetingname", aliases=("mn",), chair_only=True,
         help="#meetingname NAME: set the name used for the files")
def meetingname(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(f"Usage: {_prefix(ctx)}meetingname NAME")
        return
    _set_name(ctx, ctx.args)


@command("chair", chair_only=True, help="#chair NICK...: make people chairs")
def chair(ctx: Context) -> None:
    for nick in _nicks(ctx.args):
        ctx.meeting.add_chair(nick)
    ctx.reply(f"Current chairs: {' '.join(ctx.meeting.chair_nicks())}")


@command("unchair", chair_only=True, help="#unchair NICK...: remove chairs (not the founder)")
def unchair(ctx: Context) -> None:
    m = ctx.meeting
    for nick in _nicks(ctx.args):
        if m.key_of(nick) == m.founder_key:
            ctx.reply(f"{m.founder} started the meeting and stays a chair.")
        else:
            m.remove_chair(nick)
    ctx.reply(f"Current chairs: {' '.join(m.chair_nicks())}")


@command("undo", chair_only=True, help="#undo: remove the last item from the minutes")
def undo(ctx: Context) -> None:
    item = ctx.meeting.undo()
    if item is None:
        ctx.reply("Nothing to undo.")
        return
    ctx.reply(f"Removing item from minutes: {item.describe()}")


@command("nick", help="#nick NICK...: make names known for action items")
def nick(ctx: Context) -> None:
    names = _nicks(ctx.args)
    if not names:
        ctx.reply(f"Usage: {_prefix(ctx)}nick NICK...")
        return
    for name in names:
        ctx.meeting.attend(name)
    ctx.reply(f"Nick{'s' if len(names) > 1 else ''} added for action items: {' '.join(names)}")


@command("save", chair_only=True, help="#save: write the minutes so far")
def save(ctx: Context) -> None:
    ctx.outcome.publish = True


@command("lurk", chair_only=True, help="#lurk: stop replying (recording goes on)")
def lurk(ctx: Context) -> None:
    ctx.meeting.lurking = True


@command("unlurk", chair_only=True, help="#unlurk: reply again")
def unlurk(ctx: Context) -> None:
    ctx.meeting.lurking = False
