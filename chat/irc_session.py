"""The IRC protocol of one connection without the socket (sans-I/O): fed the events the
server's lines make, it negotiates capabilities and SASL, reads ISUPPORT, follows nicks,
channel members and services accounts, and hands back the lines to send and the chat
events to record. The adapter (chat/irc.py) keeps the socket, the token bucket and the
watchdog; tests feed it transcripts of real servers' lines."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from irc.client import Event
from irc.modes import parse_channel_modes

from openminutes.chat.base import (
    ChatEvent,
    Checkpoint,
    EventSink,
    Outage,
    clean_text,
    replaced_topic_state,
)
from openminutes.chat.config import IrcConfig
from openminutes.chat.irclines import DEFAULT_PREFIX_RESERVE, sanitize, split_utf8
from openminutes.meetings.model import LineKind
from openminutes.meetings.nicks import fold

log = logging.getLogger(__name__)

# Capabilities we use when the server offers them.
WANTED_CAPS = ("server-time", "account-tag", "extended-join", "account-notify",
               "message-tags", "multi-prefix", "batch", "draft/chathistory")
HISTORY_PAGE = 100  # lines asked for per CHATHISTORY request, unless the server says less
WHOX_QUERY_ID = "147"  # marks the replies to our own WHOX queries
# Channel ranks that may set the topic of a +t channel (owner, admin, op, halfop).
_TOPIC_RANKS = frozenset("~&@%")
_TOPIC_MODES = frozenset("qaoh")


def _tag(event: Event, key: str) -> str | None:
    for tag in event.tags or ():
        if tag.get("key") == key:
            value = tag.get("value")
            return str(value) if value is not None else None
    return None


def _stamped_id(event: Event, room: str, nick: str, kind: LineKind, text: str) -> str | None:
    """Without a msgid, a server-time stamp still identifies a line well enough that a
    bouncer playing back what the bot already saw does not store it twice."""
    stamp = _tag(event, "time")
    if not stamp:
        return None
    digest = hashlib.sha256(f"{stamp}\0{room}\0{nick}\0{kind}\0{text}".encode()).hexdigest()
    return f"st:{digest[:32]}"


def _server_time(event: Event, now: datetime) -> datetime:
    stamp = _tag(event, "time")
    if stamp:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(stamp).astimezone(UTC)
    return now


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _history_stamp(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class HistoryFetch:
    """A channel's history being fetched (IRCv3 draft/chathistory), a page at a time;
    `done(events, complete)` gets what the server kept (complete: all of it, the last
    page was not full)."""

    channel: str
    done: Callable[[list[ChatEvent], bool], None]
    events: list[ChatEvent] = field(default_factory=list)
    page: int = 0  # lines in the batch being received
    after: str = ""  # the reference of its last line: where the next page starts


class IrcSession:
    """One connection's protocol state. `send` takes a raw line for the server, `emit`
    an event for the recorder; `now` is the clock (injected, so transcripts replay)."""

    def __init__(self, config: IrcConfig, send: Callable[[str], None], emit: EventSink,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.config = config
        self._send = send
        # Every line it logs names its network ([logging] format = "json").
        self.log = logging.LoggerAdapter(log, {"network": config.name})
        self._emit_event = emit
        self._now = now
        self.nick = config.nick
        self.registered = False
        self.prefix_reserve = DEFAULT_PREFIX_RESERVE
        self.members: dict[str, set[str]] = {}  # folded channel -> folded nicks
        # folded nick -> services account, from extended-join, WHOX, account-notify and
        # account-tag: lines carry the account even where the server does not tag them.
        self.accounts: dict[str, str] = {}
        self.whox = False  # the server answers WHO with the fields we ask for
        # What setting a channel's topic needs: its topic, whether it is +t, whether we
        # hold a rank that may set it anyway; and the topics meetings replaced (restored
        # at their end, kept in storage across restarts by Checkpoints).
        self.topics: dict[str, str] = {}
        self.topic_locked: dict[str, bool] = {}
        self.ranked: set[str] = set()
        self.replaced_topics: dict[str, str] = {}
        self.topic_len = 300
        self.caps: set[str] = set()
        self.offered: set[str] = set()
        self.sasl_settled = False  # logged in, or told why not
        self.logged_in = False  # SASL succeeded on this connection
        self.login_problem = ""  # why the configured SASL login did not happen
        self.last_heard = now()
        # Since when the connection is down, once it has been up: lines said meanwhile
        # may be missing, and the recorder is told when it is back (an Outage).
        self.down_since: datetime | None = None
        self.history_page = HISTORY_PAGE  # ISUPPORT CHATHISTORY= lowers it
        self._fetches: dict[str, HistoryFetch] = {}  # folded channel -> fetch
        self._batches: dict[str, str] = {}  # chathistory batch ref -> folded channel

    def connection_made(self) -> str:
        """A new connection: its state reset; returns the first line to send, so that
        registration waits for capability negotiation (CAP END)."""
        self.offered.clear()
        self.caps.clear()
        self.sasl_settled = False
        self.logged_in = False
        self.login_problem = ""
        self.registered = False
        self.nick = self.config.nick
        return "CAP LS 302"

    def connection_lost(self, *, closing: bool) -> None:
        if self.registered and self.down_since is None and not closing:
            self.down_since = self.last_heard
        self.registered = False
        self._end_fetches()

    # -- history (IRCv3 draft/chathistory) -------------------------------------------------

    @property
    def keeps_history(self) -> bool:
        """The server hands over what was said in a channel before (Ergo and others)."""
        return {"draft/chathistory", "batch", "server-time"} <= self.caps

    def fetch_history(self, channel: str, since: datetime,
                      done: Callable[[list[ChatEvent], bool], None]) -> bool:
        """Ask for what was said in `channel` after `since`, a page at a time; False when
        the server keeps no history (`done` is then never called)."""
        if not self.keeps_history or not self.registered:
            return False
        previous = self._fetches.pop(fold(channel), None)
        if previous is not None:
            previous.done(previous.events, False)
        self._fetches[fold(channel)] = HistoryFetch(channel, done)
        self._send(f"CHATHISTORY AFTER {channel} timestamp={_history_stamp(since)} "
                   f"{self.history_page}")
        return True

    def _on_batch(self, event: Event) -> None:
        ref = event.target or ""
        if ref.startswith("+") and len(event.arguments) >= 2 \
                and event.arguments[0] == "chathistory" \
                and fold(event.arguments[1]) in self._fetches:
            self._batches[ref[1:]] = fold(event.arguments[1])
            self._fetches[fold(event.arguments[1])].page = 0
        elif ref.startswith("-") and ref[1:] in self._batches:
            fetch = self._fetches.get(self._batches.pop(ref[1:]))
            if fetch is None:
                return
            if fetch.page >= self.history_page and fetch.after:
                # A full page: there may be more after its last line.
                self._send(f"CHATHISTORY AFTER {fetch.channel} {fetch.after} "
                           f"{self.history_page}")
                return
            del self._fetches[fold(fetch.channel)]
            fetch.done(fetch.events, True)

    def _on_fail(self, event: Event) -> None:
        # FAIL CHATHISTORY <code> <context...> :description: the fetch ends with what it has.
        if event.target == "CHATHISTORY":
            self._end_fetches()

    def _end_fetches(self) -> None:
        """Every fetch in progress ends with what it has, incomplete."""
        for fetch in self._fetches.values():
            fetch.done(fetch.events, False)
        self._fetches.clear()
        self._batches.clear()

    def _fetch_of(self, event: Event) -> HistoryFetch | None:
        """The fetch a line belongs to: it came in one of its chathistory batches."""
        batch = _tag(event, "batch")
        return self._fetches.get(self._batches[batch]) \
            if batch is not None and batch in self._batches else None

    @classmethod
    def events(cls) -> tuple[str, ...]:
        """The irc.client event types the session handles (its `_on_*` methods)."""
        return tuple(sorted(name[4:] for name in dir(cls) if name.startswith("_on_")))

    def handle(self, event: Event) -> None:
        """One event the server's lines made (irc.client's parse of them)."""
        self.last_heard = self._now()
        fetch = self._fetch_of(event)
        if fetch is not None:  # every line of a page counts, the bot's own too
            fetch.page += 1
            msgid = _tag(event, "msgid")
            fetch.after = (f"msgid={msgid}" if msgid else
                           f"timestamp={_history_stamp(_server_time(event, self._now()))}")
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _on_cap(self, event: Event) -> None:
        args = list(event.arguments)
        sub = args[0].upper() if args else ""
        if sub == "LS":
            more = len(args) > 2 and args[1] == "*"
            self.offered.update(c.split("=", 1)[0] for c in args[-1].split())
            if more:
                return
            wanted = [c for c in WANTED_CAPS if c in self.offered]
            if self.config.sasl_username and "sasl" in self.offered:
                wanted.append("sasl")
            elif self.config.sasl_username:
                self._without_login("the server offers no SASL")
                if self.config.sasl_required:
                    return
            if wanted:
                self._send(f"CAP REQ :{' '.join(wanted)}")
            else:
                self._send("CAP END")
        elif sub == "ACK":
            self.caps.update(args[-1].split())
            if "sasl" in self.caps and self.config.sasl_username:
                self._send("AUTHENTICATE PLAIN")
            else:
                self._send("CAP END")
        elif sub == "NAK":
            self._send("CAP END")

    def _on_authenticate(self, event: Event) -> None:
        if event.target == "+":
            blob = f"\0{self.config.sasl_username}\0{self.config.sasl_password}".encode()
            encoded = base64.b64encode(blob).decode()
            for i in range(0, len(encoded), 400):
                self._send(f"AUTHENTICATE {encoded[i:i + 400]}")
            if len(encoded) % 400 == 0:
                self._send("AUTHENTICATE +")

    def _on_saslsuccess(self, event: Event) -> None:
        self.sasl_settled = self.logged_in = True
        self._send("CAP END")

    def _on_saslfail(self, event: Event) -> None:
        self._without_login("the SASL login failed")
        if not self.config.sasl_required:
            self._send("CAP END")

    def _without_login(self, why: str) -> None:
        """SASL is configured but cannot happen: go on without an account, or, with
        sasl_required, leave before registering (and try again later)."""
        self.sasl_settled = True
        self.login_problem = why
        if self.config.sasl_required:
            self.log.error("%s: %s and sasl_required is set: not registering; will try again",
                           self.config.name, why)
            self._send("QUIT :SASL login required")
        else:
            self.log.warning("%s: %s; registering without an account (sasl_username %s)",
                             self.config.name, why, self.config.sasl_username)

    _on_sasltoolong = _on_saslfail
    _on_saslaborted = _on_saslfail

    def _on_nicknameinuse(self, event: Event) -> None:
        if not self.registered:
            self.nick = f"{self.nick}_"
            self._send(f"NICK {self.nick}")

    _on_erroneusnickname = _on_nicknameinuse

    def _on_welcome(self, event: Event) -> None:
        if event.target:
            self.nick = event.target  # 001 names us as the server knows us
        self.log.info("%s: registered as %s (caps: %s)", self.config.name, self.nick,
                      " ".join(sorted(self.caps)) or "none")
        if self.config.sasl_username and not self.sasl_settled:
            # Registered without any capability negotiation: no SASL happened.
            self._without_login("the server does not negotiate capabilities")
            if self.config.sasl_required:
                return
        self.registered = True
        if self.down_since is not None:
            self._emit_event(Outage(self.config.name, self.down_since, self._now()))
            self.down_since = None
        self.members.clear()
        self.topics.clear()
        self.topic_locked.clear()
        self.ranked.clear()
        self.accounts.clear()
        self.whox = False  # until this server's ISUPPORT says so (it follows 001)
        for channel in self.config.channels:
            self._send(f"JOIN {channel}")

    def _emit(self, event: Event, room: str, kind: LineKind, text: str,
              nick: str | None = None, identity: str | None = None) -> None:
        who = nick or event.source.nick
        tagged = identity or _tag(event, "account")
        cleaned = clean_text(text)
        fetch = self._fetch_of(event)
        if fetch is None and tagged:
            self._set_account(who, tagged)
        line = ChatEvent(
            network=self.config.name, room=room, nick=who, text=cleaned, kind=kind,
            time=_server_time(event, self.last_heard),
            # A line from history carries the account it had then, if the server says.
            identity=tagged if fetch is not None else self.accounts.get(fold(who)),
            event_id=_tag(event, "msgid") or _stamped_id(event, room, who, kind, cleaned),
            # Said before the bot was there to answer: recorded, not answered.
            catch_up=fetch is not None,
        )
        if fetch is not None:
            fetch.events.append(line)
            return
        self._emit_event(line)

    def _own(self, event: Event) -> bool:
        """Our own messages echoed back (a bouncer's playback, echo-message): the recorder
        has already recorded what the bot said."""
        return fold(event.source.nick) == fold(self.nick)

    def _on_pubmsg(self, event: Event) -> None:
        if not self._own(event):
            self._emit(event, event.target, LineKind.MESSAGE, event.arguments[0])

    def _on_action(self, event: Event) -> None:
        if event.target and event.target[0] in "#&+!" and not self._own(event):
            self._emit(event, event.target, LineKind.ACTION,
                       event.arguments[0] if event.arguments else "")

    def _on_pubnotice(self, event: Event) -> None:
        if not self._own(event):
            self._emit(event, event.target, LineKind.NOTICE, event.arguments[0])

    def _on_join(self, event: Event) -> None:
        channel = event.target
        nick = event.source.nick
        own = fold(nick) == fold(self.nick)
        if own:
            # The server shows us our own hostmask: size replies to fit exactly.
            self.prefix_reserve = len(f":{event.source} ".encode())
        self.members.setdefault(fold(channel), set()).add(fold(nick))
        if own:
            self._send(f"MODE {channel}")  # is it +t? (324 answers)
        if "extended-join" in self.caps and event.arguments:
            # extended-join: JOIN #chan account :realname ("*": not logged in)
            self._set_account(nick, event.arguments[0])
        elif not own:
            # A nick seen before may belong to someone else now.
            self.accounts.pop(fold(nick), None)
        if self.whox:
            if own:  # who is already here, and under which account
                self._send(f"WHO {channel} %tna,{WHOX_QUERY_ID}")
            elif not self.caps & {"extended-join", "account-tag"}:
                self._send(f"WHO {nick} %tna,{WHOX_QUERY_ID}")
        self._emit(event, channel, LineKind.JOIN, "")

    def _on_part(self, event: Event) -> None:
        self._emit(event, event.target, LineKind.PART,
                   event.arguments[0] if event.arguments else "")
        self._leave(event.target, event.source.nick)

    def _on_kick(self, event: Event) -> None:
        kicked = event.arguments[0] if event.arguments else ""
        reason = event.arguments[1] if len(event.arguments) > 1 else ""
        self._emit(event, event.target, LineKind.PART,
                   f"kicked by {event.source.nick}: {reason}", nick=kicked)
        self._leave(event.target, kicked)

    def _leave(self, channel: str, nick: str) -> None:
        self.members.get(fold(channel), set()).discard(fold(nick))
        if not self._channels_of(nick):  # out of sight: the nick is anyone's now
            self.accounts.pop(fold(nick), None)

    def _channels_of(self, nick: str) -> list[str]:
        folded = fold(nick)
        return [c for c, members in self.members.items() if folded in members]

    def _room_name(self, folded: str) -> str:
        for channel in self.config.channels:
            if fold(channel) == folded:
                return channel
        return folded

    def _reclaim_nick(self, gone: str) -> None:
        """Our configured nick was held (by our own ghost after a dead link); take it back."""
        if fold(gone) == fold(self.config.nick) and fold(self.nick) != fold(self.config.nick):
            self._send(f"NICK {self.config.nick}")

    def _on_quit(self, event: Event) -> None:
        self._reclaim_nick(event.source.nick)
        reason = event.arguments[0] if event.arguments else ""
        for channel in self._channels_of(event.source.nick):
            self._emit(event, self._room_name(channel), LineKind.QUIT, reason)
            self._leave(channel, event.source.nick)
        self.accounts.pop(fold(event.source.nick), None)

    def _on_nick(self, event: Event) -> None:
        old, new = event.source.nick, event.target
        if fold(old) == fold(self.nick):
            self.nick = new
        self._reclaim_nick(old)
        for channel in self._channels_of(old):
            self._emit(event, self._room_name(channel), LineKind.NICK, new)
            self.members[channel].discard(fold(old))
            self.members[channel].add(fold(new))
        account = self.accounts.pop(fold(old), None)
        if account:
            self.accounts[fold(new)] = account

    def _on_topic(self, event: Event) -> None:
        text = event.arguments[0] if event.arguments else ""
        self.topics[fold(event.target)] = text
        if not self._own(event):  # the bot's own topic (#topic) is not a line, as on Matrix
            self._emit(event, event.target, LineKind.TOPIC, text)

    def _on_currenttopic(self, event: Event) -> None:  # 332 me #chan :topic
        if len(event.arguments) >= 2:
            self.topics[fold(event.arguments[0])] = event.arguments[1]

    def _on_notopic(self, event: Event) -> None:  # 331 me #chan :No topic is set
        if event.arguments:
            self.topics[fold(event.arguments[0])] = ""

    def _on_channelmodeis(self, event: Event) -> None:  # 324 me #chan +nt
        if len(event.arguments) >= 2:
            self.topic_locked[fold(event.arguments[0])] = "t" in event.arguments[1].split()[0]

    def _on_mode(self, event: Event) -> None:
        channel = fold(event.target or "")
        for sign, mode, arg in parse_channel_modes(" ".join(event.arguments)):
            if mode == "t":
                self.topic_locked[channel] = sign == "+"
            elif mode in _TOPIC_MODES and arg is not None and fold(arg) == fold(self.nick):
                if sign == "+":
                    self.ranked.add(channel)
                else:
                    self.ranked.discard(channel)  # a lesser rank kept is seen at rejoin

    def may_set_topic(self, channel: str) -> bool:
        """We are ranked in the channel, or it is known not to be +t."""
        folded = fold(channel)
        return folded in self.ranked or self.topic_locked.get(folded) is False

    def topic_line(self, channel: str, text: str) -> str | None:
        """The TOPIC line that sets a meeting's topic, where we may (None where not); the
        topic it replaces is kept to be put back."""
        folded = fold(channel)
        if not self.may_set_topic(channel):
            return None
        if folded not in self.replaced_topics:
            before = self.topics.get(folded, "")
            self.replaced_topics[folded] = before
            self._emit_event(Checkpoint(self.config.name,
                                        *replaced_topic_state(folded, before)))
        return self._topic(channel, text)

    def restore_line(self, channel: str) -> str | None:
        """The TOPIC line that puts back the topic a meeting replaced, if it did."""
        folded = fold(channel)
        if folded not in self.replaced_topics:
            return None
        before = self.replaced_topics.pop(folded)
        self._emit_event(Checkpoint(self.config.name, *replaced_topic_state(folded, None)))
        return self._topic(channel, before) if self.may_set_topic(channel) else None

    def _topic(self, channel: str, text: str) -> str:
        return f"TOPIC {channel} :{split_utf8(sanitize(text), self.topic_len)[0]}"

    def _on_namreply(self, event: Event) -> None:
        # 353 me = #chan :@op +voice nick
        channel, names = event.arguments[1], event.arguments[2]
        members = self.members.setdefault(fold(channel), set())
        for name in names.split():
            nick = name.lstrip("~&@%+").split("!", 1)[0]
            members.add(fold(nick))
            if fold(nick) == fold(self.nick):
                ranks = set(name[:len(name) - len(name.lstrip("~&@%+"))])
                if ranks & _TOPIC_RANKS:
                    self.ranked.add(fold(channel))
                else:
                    self.ranked.discard(fold(channel))

    def _on_whospcrpl(self, event: Event) -> None:  # 354
        # WHOX reply to "%tna": me token nick account ("0": not logged in)
        args = list(event.arguments)
        if len(args) >= 3 and args[0] == WHOX_QUERY_ID:
            self._set_account(args[1], args[2])

    def _on_account(self, event: Event) -> None:
        # account-notify: ":nick!u@h ACCOUNT name" ("*": logged out)
        self._set_account(event.source.nick, event.target or "*")

    def _set_account(self, nick: str, account: str) -> None:
        if account in ("*", "0", ""):
            self.accounts.pop(fold(nick), None)
        else:
            self.accounts[fold(nick)] = account

    def _on_featurelist(self, event: Event) -> None:
        # 005 ISUPPORT; read here because the irc package skips tokens without a value.
        if any(arg == "WHOX" or arg.startswith("WHOX=") for arg in event.arguments):
            self.whox = True
        for arg in event.arguments:
            if arg.startswith("CHATHISTORY=") and arg[12:].isdigit() and int(arg[12:]) > 0:
                self.history_page = min(HISTORY_PAGE, int(arg[12:]))
            if arg.startswith("TOPICLEN=") and arg[9:].isdigit() and int(arg[9:]) > 0:
                self.topic_len = int(arg[9:])
