"""Votes: ballots one per identity, eligibility, quorum and thresholds. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

DEFAULT_OPTIONS = ("Yes", "No", "Abstain")
# hcoop-meetbot's ballots, for motions with the default options.
HCOOP_CHOICES = {"+1": "Yes", "-1": "No", "0": "Abstain", "+0": "Abstain", "-0": "Abstain"}


class Threshold(StrEnum):
    MAJORITY = "majority"
    TWO_THIRDS = "two-thirds"
    UNANIMITY = "unanimity"

    @property
    def label(self) -> str:
        return {"majority": "simple majority", "two-thirds": "two-thirds majority",
                "unanimity": "unanimity"}[self.value]

    @property
    def fraction(self) -> Fraction:
        return {"majority": Fraction(1, 2), "two-thirds": Fraction(2, 3),
                "unanimity": Fraction(1)}[self.value]


@dataclass(frozen=True, slots=True)
class VoteRule:
    """How a vote is decided: minimum ballots, share of Yes needed, whether abstentions
    count towards that share."""

    quorum: int = 0
    threshold: Threshold = Threshold.MAJORITY
    abstentions_count: bool = False
    yes_required: int = 0  # meetingology's #votesrequired: at least this many in favour

    def describe(self, ballots: int) -> str:
        parts = []
        if self.quorum:
            met = "met" if ballots >= self.quorum else "not met"
            parts.append(f"quorum {self.quorum} {met}")
        parts.append(self.threshold.label)
        if self.yes_required:
            parts.append(f"{self.yes_required} in favour required")
        if self.abstentions_count:
            parts.append("abstentions counted")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Ballot:
    voter: str  # the nick shown
    key: str  # the identity the ballot belongs to
    choice: str
    time: datetime
    line: int
    counted: bool
    replaced: bool = False  # a later ballot by the same identity took its place


@dataclass
class Vote:
    question: str
    options: tuple[str, ...]
    started_by: str
    started_at: datetime
    line: int
    rule: VoteRule = field(default_factory=VoteRule)
    voters: dict[str, str] | None = None  # identity key -> nick; None: anyone may vote
    ballots: list[Ballot] = field(default_factory=list)
    result: str = ""
    passed: bool | None = None
    ended_at: datetime | None = None
    end_line: int | None = None
    closed_by_meeting_end: bool = False
    # Opened meetingology's way (#vote TOPIC): a line that starts with +1, -1 or +0 is a
    # ballot, as `#vote +1` is.
    plain_ballots: bool = False

    @property
    def is_motion(self) -> bool:
        return tuple(o.lower() for o in self.options) == tuple(o.lower() for o in DEFAULT_OPTIONS)

    def option_for(self, text: str) -> str | None:
        """The option a voter meant: case-insensitive; +1/-1/0 on a motion."""
        wanted = text.strip().strip(".!").lower()
        for option in self.options:
            if option.lower() == wanted:
                return option
        if self.is_motion and wanted in HCOOP_CHOICES:
            return HCOOP_CHOICES[wanted]
        return None

    def may_vote(self, key: str) -> bool:
        return self.voters is None or key in self.voters

    def cast(self, ballot: Ballot) -> Ballot | None:
        """Record a ballot; returns the earlier counted one it replaces, if any."""
        previous = None
        if ballot.counted:
            for i, old in enumerate(self.ballots):
                if old.key == ballot.key and old.counted and not old.replaced:
                    self.ballots[i] = _replaced(old)
                    previous = old
        self.ballots.append(ballot)
        return previous

    def rename(self, old_key: str, new_key: str, new_nick: str) -> None:
        """A voter changed nick (without an account): their ballot stays theirs."""
        self.ballots = [
            Ballot(new_nick, new_key, b.choice, b.time, b.line, b.counted, b.replaced)
            if b.key == old_key else b
            for b in self.ballots
        ]
        if self.voters is not None and old_key in self.voters:
            del self.voters[old_key]
            self.voters[new_key] = new_nick

    def current_ballots(self) -> list[Ballot]:
        return [b for b in self.ballots if b.counted and not b.replaced]

    def tally(self) -> dict[str, int]:
        counts = dict.fromkeys(self.options, 0)
        for ballot in self.current_ballots():
            counts[ballot.choice] += 1
        return counts

    def tally_text(self) -> str:
        return ", ".join(f"{option} {count}" for option, count in self.tally().items())

    def decide(self) -> tuple[bool | None, str]:
        """(passed, result line). Motions pass or fail by the rule; other votes name the
        option with most ballots (plurality) when quorum is met."""
        counts = self.tally()
        cast = sum(counts.values())
        rule = self.rule.describe(cast)
        quorum_met = cast >= self.rule.quorum
        if self.is_motion:
            yes, no, abstain = (counts[o] for o in self.options)
            base = yes + no + (abstain if self.rule.abstentions_count else 0)
            share = Fraction(yes, base) if base else Fraction(0)
            if self.rule.threshold is Threshold.MAJORITY:
                carried = share > self.rule.threshold.fraction
            else:
                carried = share >= self.rule.threshold.fraction
            passed = quorum_met and carried and yes > 0 and yes >= self.rule.yes_required
            verdict = "PASSED" if passed else "FAILED"
            return passed, f"Motion {verdict}: {self.tally_text()} ({rule})"
        if not quorum_met:
            return False, f"No result: {self.tally_text()} ({rule})"
        best = max(counts.values()) if counts else 0
        leaders = [o for o, c in counts.items() if c == best and best > 0]
        if len(leaders) == 1:
            return None, f"{leaders[0]} wins: {self.tally_text()} ({rule}, plurality)"
        return None, f"No winner (tie): {self.tally_text()} ({rule}, plurality)"


def _replaced(ballot: Ballot) -> Ballot:
    return Ballot(ballot.voter, ballot.key, ballot.choice, ballot.time, ballot.line,
                  ballot.counted, replaced=True)


def parse_startvote(args: str) -> tuple[str, tuple[str, ...]]:
    """OpenStack's `QUESTION? OPTION1, OPTION2` (options default to Yes, No, Abstain).
    Commas separate the options; without a comma, spaces do, as in OpenStack's MeetBot
    (`Pick one? red green blue` has three)."""
    question, mark, rest = args.partition("?")
    pieces = rest.split(",") if "," in rest else rest.split()
    options = tuple(dict.fromkeys(o.strip() for o in pieces if o.strip()))
    if not mark or not options:
        return args.strip(), DEFAULT_OPTIONS
    return f"{question.strip()}?", options
