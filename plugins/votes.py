"""Votes with OpenStack's commands (#startvote, #vote, #showvote, #endvote),
hcoop-meetbot's (#motion, #vote +1/-1/0, #close) and meetingology's (#vote TOPIC opens a
vote that lines starting with +1, -1 or +0 answer)."""

from __future__ import annotations

import re
from dataclasses import replace

from openminutes.meetings.model import ItemKind
from openminutes.meetings.registry import Context, Plugin
from openminutes.meetings.votes import (
    DEFAULT_OPTIONS,
    HCOOP_CHOICES,
    Ballot,
    Threshold,
    Vote,
    parse_startvote,
)

plugin = Plugin("votes")
command = plugin.command
plugin.kind(ItemKind.VOTE)  # #endvote records the result (Meeting.end_vote)


def _prefix(ctx: Context) -> str:
    return ctx.meeting.prefixes[0]


def _open(ctx: Context, question: str, options: tuple[str, ...], *,
          plain_ballots: bool = False) -> None:
    m = ctx.meeting
    if m.open_vote is not None:
        ctx.reply(f"A vote is already open: {m.open_vote.question} "
                  f"({_prefix(ctx)}endvote closes it).")
        return
    rule = m.vote_rule()
    m.open_vote = Vote(question, options, ctx.line.nick, ctx.line.time, ctx.line.seq, rule,
                       dict(m.next_voters) if m.next_voters is not None else None,
                       plain_ballots=plain_ballots)
    if plain_ballots:
        ctx.reply(f"Please vote on: {question}")
        ctx.reply("Vote by saying +1, -1 or +0 (abstain) in the channel. "
                  "Only your last vote counts.")
        return
    ctx.reply(f"Begin voting on: {question} Valid vote options are {', '.join(options)}.")
    ctx.reply(f"Vote using '{_prefix(ctx)}vote OPTION'. Only your last vote counts.")


@command("startvote", chair_only=True,
         help="#startvote QUESTION? OPTION1, OPTION2, ...: open a vote (default Yes, No, Abstain)")
def startvote(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(f"Usage: {_prefix(ctx)}startvote QUESTION? OPTION1, OPTION2, ...")
        return
    _open(ctx, *parse_startvote(ctx.args))


@command("motion", chair_only=True, help="#motion TEXT: open a Yes/No/Abstain vote on TEXT")
def motion(ctx: Context) -> None:
    if not ctx.args:
        ctx.reply(f"Usage: {_prefix(ctx)}motion TEXT")
        return
    _open(ctx, ctx.args, ("Yes", "No", "Abstain"))


@command("vote", help="#vote OPTION: cast or change your ballot (+1/-1/0 on a motion); "
                      "a chair with no vote open: #vote TOPIC opens one (meetingology)")
def vote(ctx: Context) -> None:
    m = ctx.meeting
    current = m.open_vote
    if current is None:
        if ctx.args and m.is_chair(ctx.line):
            _open(ctx, ctx.args, DEFAULT_OPTIONS, plain_ballots=True)
            return
        ctx.reply(f"{ctx.line.nick}: no vote is open.")
        return
    _cast(ctx, current, ctx.args)


@plugin.listen
def plain_ballot(ctx: Context) -> None:
    """meetingology: while a vote it opened is open, `+1 ...` is `#vote +1`."""
    current = ctx.meeting.open_vote
    if current is None or not current.plain_ballots or not ctx.args:
        return  # every plain line of a meeting comes here
    word = ctx.args.split(maxsplit=1)[0]
    if word in HCOOP_CHOICES:
        _cast(ctx, current, word)


def _cast(ctx: Context, current: Vote, text: str) -> None:
    m = ctx.meeting
    choice = current.option_for(text)
    if choice is None:
        ctx.reply(f"{ctx.line.nick}: '{text}' is not a valid option. "
                  f"Valid options: {', '.join(current.options)}.")
        return
    key = m.key_of(ctx.line.nick, ctx.line.identity)
    counted = current.may_vote(key)
    previous = current.cast(Ballot(ctx.line.nick, key, choice, ctx.line.time, ctx.line.seq,
                                   counted))
    if not counted:
        ctx.reply(f"{ctx.line.nick}: your vote was not counted: you are not on the voters list.")
    elif previous is not None and previous.choice != choice:
        ctx.reply(f"{ctx.line.nick}: your vote {choice} replaces your earlier {previous.choice}.")
    elif previous is not None:
        ctx.reply(f"{ctx.line.nick}: your vote is still {choice}; it counts once.")


@command("showvote", help="#showvote: show the current tally")
def showvote(ctx: Context) -> None:
    current = ctx.meeting.open_vote
    if current is None:
        ctx.reply("No vote is open.")
        return
    ballots = len(current.current_ballots())
    ctx.reply(f"{current.question} {current.tally_text()} ({ballots} ballot"
              f"{'' if ballots == 1 else 's'}; {current.rule.describe(ballots)})")


@command("endvote", aliases=("close",), chair_only=True,
         help="#endvote: close the vote and record its result")
def endvote(ctx: Context) -> None:
    closed = ctx.meeting.end_vote(ctx.line)
    if closed is None:
        ctx.reply("No vote is open.")
        return
    ctx.reply(f"Voted on: {closed.question} {closed.result}")


@command("voters", chair_only=True,
         help="#voters NICK...: only these may vote (alone: show who may vote)")
def voters(ctx: Context) -> None:
    m = ctx.meeting
    nicks = [n for n in re.split(r"[\s,]+", ctx.args) if n]
    if not nicks:
        listed = m.open_vote.voters if m.open_vote else m.next_voters
        ctx.reply(f"Voters: {' '.join(sorted(listed.values(), key=str.lower))}" if listed
                  else "Anyone may vote.")
        return
    chosen = {m.key_of(n): m.current_nick(n) for n in nicks}
    if m.open_vote is not None:
        m.open_vote.voters = chosen
    m.next_voters = chosen
    ctx.reply(f"Voters: {' '.join(sorted(chosen.values(), key=str.lower))}")


_RULE = re.compile(r"(quorum|threshold|abstentions)=(\S+)", re.IGNORECASE)


@command("voterule", chair_only=True,
         help="#voterule quorum=N threshold=majority|two-thirds|unanimity "
              "abstentions=counted|ignored: the rule of this and later votes")
def voterule(ctx: Context) -> None:
    m = ctx.meeting
    rule = m.vote_rule()
    settings = {k.lower(): v.lower() for k, v in _RULE.findall(ctx.args)}
    try:
        quorum = int(settings.get("quorum", rule.quorum))
        threshold = Threshold(settings.get("threshold", rule.threshold.value))
        abstentions = settings.get("abstentions",
                                   "counted" if rule.abstentions_count else "ignored")
        if quorum < 0 or abstentions not in ("counted", "ignored"):
            raise ValueError(abstentions)
    except ValueError:
        ctx.reply(f"Usage: {_prefix(ctx)}voterule quorum=N threshold=majority|two-thirds|"
                  "unanimity abstentions=counted|ignored")
        return
    # What #voterule does not name (meetingology's votes required) stays as it was.
    new = replace(rule, quorum=quorum, threshold=threshold,
                  abstentions_count=abstentions == "counted")
    m.set_vote_rule(new)
    ctx.reply(f"Vote rule: {new.describe(0).replace(' not met', '')}")
