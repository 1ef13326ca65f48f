"""The state of one meeting, built only from its lines."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from openminutes.meetings.model import Applied, Item, ItemKind, Line, LineKind
from openminutes.meetings.nicks import fold, owners_of
from openminutes.meetings.votes import Vote, VoteRule


@dataclass(frozen=True, slots=True)
class ScheduledSlot:
    """The scheduled meeting a moment falls in, as the engine needs it (schedules/ finds
    it; the engine never reads a schedule itself)."""

    meeting_id: str  # the series' name, which names an unnamed meeting
    project: str  # its title
    start: datetime
    minutes: int  # the slot's duration


class Schedule(Protocol):
    def slot_at(self, room: str, moment: datetime) -> ScheduledSlot | None: ...


@dataclass(frozen=True, slots=True)
class MeetingSettings:
    """Per-deployment rules the engine needs; taken from the [meetings] and [votes] config."""

    prefixes: tuple[str, ...] = ("#",)
    max_length: timedelta = timedelta(minutes=60)
    vote_rule: VoteRule = field(default_factory=VoteRule)
    channel_vote_rules: tuple[tuple[str, VoteRule], ...] = ()  # (folded channel, rule)
    # Networks that also take other spellings (Matrix: maubot-meetings' `!sm`, `^info`).
    network_prefixes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Meeting series from [schedule] dir: an unnamed #startmeeting at a scheduled time
    # takes the series' name.
    schedule: Schedule | None = None

    def prefixes_for(self, network: str) -> tuple[str, ...]:
        # Asked for every line: a scan of a few pairs, no dict built each time.
        return next((prefixes for name, prefixes in self.network_prefixes
                     if name == network), self.prefixes)

    def vote_rule_for(self, channel: str) -> VoteRule:
        folded = fold(channel)
        return next((rule for name, rule in self.channel_vote_rules if name == folded),
                    self.vote_rule)


def identity_key(nick: str, identity: str | None) -> str:
    """Who someone is: their account when the network says, else their nick."""
    return f"account:{identity}" if identity else f"nick:{fold(nick)}"


def matrix_localpart(identity: str | None) -> str | None:
    """`alice` of `@alice:example.org`; None for anything that is not a Matrix user id."""
    if identity and identity.startswith("@") and ":" in identity:
        return identity[1:].split(":", 1)[0] or None
    return None


# What the archive's top level holds besides series folders (publish/archive.py) and the
# paths `serve` answers itself (web/app.py): a series may never be named like them.
RESERVED_NAMES = frozenset({
    "index.html", "feed.atom", "schedule.ics", "static", "years", "search", "api", "live",
    "favicon.ico", "robots.txt", "healthz", "metrics",
})


def slugify(name: str) -> str:
    """A meeting name safe to use as a file and folder name, as MeetBot reduces it; one
    that would be taken for the archive's own files gets `-meeting` added."""
    slug = re.sub(r"[^a-z0-9_.-]+", "_", name.strip().lower())
    slug = re.sub(r"\.{2,}", ".", slug).strip("._-")[:100] or "meeting"
    return f"{slug}-meeting" if slug in RESERVED_NAMES else slug


EVENT_WINDOW = 2000


def base_event(event_id: str) -> str:
    """The event a line of a multi-line message belongs to (see model.part_id)."""
    return event_id.split("|", 1)[0]


class Attendee(NamedTuple):
    """One person present: shown under their latest nick, with the nicks they had before."""

    nick: str
    lines: int
    earlier: tuple[str, ...] = ()


_BOT = "\0bot"  # the presence key of the bot's own lines (no nick or account folds to it)


@dataclass(slots=True)
class Presence:
    nick: str
    lines: int = 0
    earlier: list[str] = field(default_factory=list)

    def renamed(self, new: str) -> None:
        if new != self.nick:
            if self.nick not in self.earlier:
                self.earlier.append(self.nick)
            if new in self.earlier:
                self.earlier.remove(new)
            self.nick = new


@dataclass(frozen=True, slots=True)
class ActionItem:
    item: Item
    owners: tuple[str, ...]


@dataclass
class Meeting:
    """Everything the minutes need; mutated only by Engine.apply."""

    network: str
    channel: str
    settings: MeetingSettings = field(default_factory=MeetingSettings)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    founder: str = ""
    founder_key: str = ""
    title: str = ""
    titled: bool = False  # the title was given (#startmeeting TEXT, #meetingtopic)
    name: str = ""
    # The series an imported archive filed the meeting under (its file names): it keeps
    # that name whatever #startmeeting or #meetingname say, so old links keep working.
    series: str = ""
    chairs: dict[str, str] = field(default_factory=dict)  # identity key -> nick shown
    items: list[Item] = field(default_factory=list)
    line_count: int = 0
    last_seq: int = 0
    last_time: datetime | None = None
    gaps: list[Line] = field(default_factory=list)  # GAP and CLOSE lines, for the minutes
    # Who spoke, by identity key (followed across nick changes) -> their attendance.
    present: dict[str, Presence] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # folded name -> current nick
    # Names made known with #nick or #here: listed as present even with no line said.
    named: dict[str, str] = field(default_factory=dict)  # folded name -> name
    accounts: dict[str, str] = field(default_factory=dict)  # folded nick -> account
    lurking: bool = False
    warned: set[str] = field(default_factory=set)
    votes: list[Vote] = field(default_factory=list)  # ended votes, in order
    open_vote: Vote | None = None
    # Set by #voters / #voterule with no vote open: they apply to the next votes.
    next_voters: dict[str, str] | None = None
    next_rule: VoteRule | None = None
    scheduled_minutes: int = 0  # the duration of the scheduled slot it was started in
    # The log itself lives in storage; a meeting keeps only what corrections can reach:
    # the last `event_window` lines that have an event id, the lines of events that later
    # lines are known to correct (`pinned`, given on replay) and the corrections made.
    event_window: int = EVENT_WINDOW
    pinned: frozenset[str] = frozenset()
    recent: OrderedDict[str, Line] = field(default_factory=OrderedDict)  # oldest first
    kept: dict[str, Line] = field(default_factory=dict)  # event id -> line, never evicted
    shown: dict[int, Line] = field(default_factory=dict)  # seq -> line as corrected
    corrected: list[int] = field(default_factory=list)  # seqs, in the order corrected
    edits: dict[str, list[Line]] = field(default_factory=dict)  # event id -> its edits
    # Set after replay by meetings.amendments: the amendments made since it ended, and
    # the owners an amendment gave an action item (by its line).
    amendments: list[Applied] = field(default_factory=list)
    owners_set: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return self.settings.prefixes_for(self.network)

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def key_of(self, nick: str, identity: str | None = None) -> str:
        return identity_key(nick, identity or self.accounts.get(fold(nick)))

    def is_chair(self, line: Line) -> bool:
        return line.privileged or self.key_of(line.nick, line.identity) in self.chairs

    def overran(self, now: datetime) -> bool:
        """True once the meeting is past its configured length (the OpenStack rule)."""
        return self.started_at is not None and now - self.started_at > self.settings.max_length

    def chair_nicks(self) -> list[str]:
        return sorted(self.chairs.values(), key=str.lower)

    def add_chair(self, nick: str) -> None:
        shown = self.current_nick(nick)
        # A Matrix user id names an account outright; a name (or a localpart) is looked up.
        key = identity_key(nick, nick) if matrix_localpart(nick) else self.key_of(shown)
        self.chairs[key] = shown
        self.learn(nick)

    def remove_chair(self, nick: str) -> bool:
        key = self.key_of(nick)
        if key == self.founder_key or key not in self.chairs:
            return False
        del self.chairs[key]
        return True

    def learn(self, nick: str) -> None:
        """Make a name known for action-item assignment (a speaker or #nick)."""
        self.aliases.setdefault(fold(nick), nick)

    def rename(self, name: str) -> None:
        """Set the name the files are filed under (an imported series keeps its own)."""
        self.name = self.series or slugify(name)

    def attend(self, nick: str, alias: str = "") -> None:
        """Someone is present though they may say nothing (#nick, hcoop's #here); an
        alias names them in action items as their nick does."""
        self.learn(nick)
        self.named.setdefault(fold(nick), nick)
        if alias:
            self.aliases[fold(alias)] = self.current_nick(nick)

    def topic_text(self) -> str:
        """The channel topic for the current #topic, in MeetBot's words."""
        topic = next((i.text for i in reversed(self.items) if i.kind == ItemKind.TOPIC), "")
        return f"{topic} (Meeting topic: {self.title})" if self.titled else topic

    def current_nick(self, nick: str) -> str:
        return self.aliases.get(fold(nick), nick)

    def event_line(self, event_id: str) -> Line | None:
        """A line by its event id, if the meeting still holds it (see `remember`)."""
        return self.recent.get(event_id) or self.kept.get(event_id)

    def remember(self, lines: Iterable[Line]) -> None:
        """Hold older lines again (read back from storage) that a correction is about."""
        for line in lines:
            if line.event_id is not None:
                self.kept[line.event_id] = line

    def as_shown(self, line: Line) -> Line:
        """A line as the log shows it: edited, removed, or as said."""
        return self.shown.get(line.seq, line)

    def correct(self, line: Line) -> None:
        self.shown[line.seq] = line
        self.corrected.append(line.seq)

    def _hold(self, line: Line) -> None:
        assert line.event_id is not None
        if self.pinned and base_event(line.event_id) in self.pinned:
            self.kept[line.event_id] = line
            return
        self.recent[line.event_id] = line
        if len(self.recent) > self.event_window:
            self.recent.popitem(last=False)

    def record(self, line: Line) -> None:
        """Take note of a line: what it tells about the people in the channel, and what
        a later correction may need of it."""
        if line.event_id is not None:
            self._hold(line)
        self.line_count += 1
        self.last_seq, self.last_time = line.seq, line.time
        if line.kind in (LineKind.GAP, LineKind.CLOSE):
            self.gaps.append(line)
        elif line.kind is LineKind.EDIT and line.relates_to:
            self.edits.setdefault(line.relates_to, []).append(line)
        if line.identity and line.nick:
            self.accounts[fold(line.nick)] = line.identity
            by_nick = identity_key(line.nick, None)
            if by_nick in self.chairs:
                # Made chair by name before their account was known: the first account
                # seen speaking under that name is the chair from now on.
                self.chairs.setdefault(identity_key(line.nick, line.identity),
                                       self.chairs.pop(by_nick))
        if line.kind.is_speech:
            # The bot is one attendee, as MeetBot lists itself, whichever recorder of a
            # group said its lines (shown under the latest nick, the others as earlier),
            # and never an action item's owner.
            key = _BOT if line.own else self.key_of(line.nick, line.identity)
            presence = self.present.get(key)
            if presence is None:
                presence = self.present[key] = Presence(line.nick)
            presence.renamed(line.nick)  # the same account back under another nick
            presence.lines += 1
            if not line.own:
                self.learn(line.nick)
            localpart = matrix_localpart(line.identity)
            if localpart:
                # Action items may name a Matrix user by localpart as well as display name.
                self.aliases.setdefault(fold(localpart), line.nick)
        elif line.kind is LineKind.NICK:
            self._rename(line.nick, line.text.strip())
        elif line.kind in (LineKind.QUIT, LineKind.PART):
            # The nick is free now: whoever takes it next is not presumed to be the same
            # account (they will say who they are, by account-tag or extended-join).
            self.accounts.pop(fold(line.nick), None)

    def _rename(self, old: str, new: str) -> None:
        if not new:
            return
        old_nick = self.current_nick(old)
        for name, nick in self.aliases.items():
            if nick == old_nick:
                self.aliases[name] = new
        self.aliases[fold(new)] = new
        account = self.accounts.pop(fold(old), None)
        if account:
            self.accounts[fold(new)] = account
        old_key = identity_key(old, account)
        new_key = identity_key(new, account)
        presence = self.present.pop(old_key, None)
        if presence is not None:
            presence.renamed(new)
            before = self.present.get(new_key)
            if before is not None and before is not presence:  # spoke under it earlier
                presence.lines += before.lines
                presence.earlier.extend(n for n in before.earlier if n not in presence.earlier)
            self.present[new_key] = presence
        if self.open_vote is not None and old_key != new_key:
            self.open_vote.rename(old_key, new_key, new)
        if old_key in self.chairs:
            del self.chairs[old_key]
            self.chairs[identity_key(new, account)] = new
            if self.founder_key == old_key:
                self.founder_key = identity_key(new, account)

    def add_item(self, kind: ItemKind, line: Line, text: str, command: str = "") -> Item:
        item = Item(kind, text, line.nick, line.time, line.seq, command)
        self.items.append(item)
        return item

    def undo(self) -> Item | None:
        """Remove the last item; a vote result takes its vote with it."""
        if not self.items:
            return None
        item = self.items.pop()
        if item.kind == ItemKind.VOTE:
            self.votes = [v for v in self.votes if v.end_line != item.line]
        return item

    def vote_rule(self) -> VoteRule:
        """The rule of the open vote, else the one the next vote will follow."""
        if self.open_vote is not None:
            return self.open_vote.rule
        return self.next_rule or self.settings.vote_rule_for(self.channel)

    def set_vote_rule(self, rule: VoteRule) -> None:
        """A chair's rule (#voterule, #votesrequired): for the open vote and later ones."""
        if self.open_vote is not None:
            self.open_vote.rule = rule
        self.next_rule = rule

    def end_vote(self, line: Line, *, by_meeting_end: bool = False) -> Vote | None:
        """Close the open vote, record its result as a decision."""
        vote = self.open_vote
        if vote is None:
            return None
        vote.passed, vote.result = vote.decide()
        if by_meeting_end:
            vote.closed_by_meeting_end = True
            vote.result += " [closed by #endmeeting]"
        vote.ended_at, vote.end_line = line.time, line.seq
        self.open_vote = None
        self.votes.append(vote)
        self.add_item(ItemKind.VOTE, line, f"{vote.question} {vote.result}")
        return vote

    def actions(self) -> list[ActionItem]:
        """Action items with the people each one names, by their current nicks."""
        known = list(self.aliases)
        result = []
        for item in self.items:
            if item.kind == ItemKind.ACTION:
                owners = self.owners_set.get(item.line) or tuple(dict.fromkeys(
                    self.aliases[n] for n in owners_of(item.text, known)))
                result.append(ActionItem(item, owners))
        return result

    def attendees(self) -> list[Attendee]:
        """People present with lines said, most first; chairs who said nothing get 0."""
        found = [Attendee(p.nick, p.lines, tuple(p.earlier)) for p in self.present.values()]
        for key, nick in sorted(self.chairs.items(), key=lambda kv: kv[1].lower()):
            if key not in self.present:
                found.append(Attendee(nick, 0))
        listed = {fold(a.nick) for a in found}
        for name in self.named.values():  # named with #nick: MeetBot lists them with 0
            shown = self.current_nick(name)
            if fold(shown) not in listed:
                listed.add(fold(shown))
                found.append(Attendee(shown, 0))
        order = {id(a): i for i, a in enumerate(found)}
        return sorted(found, key=lambda a: (-a.lines, "" if a.lines else a.nick.lower(),
                                            order[id(a)]))
