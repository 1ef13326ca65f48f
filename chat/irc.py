"""IRC adapter on the `irc` package's asyncio client: CAP, SASL, server-time, reconnect,
and a token-bucket output queue so the bot is never kicked for flooding."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import ssl
import time
from datetime import UTC, datetime
from typing import Any

from irc.client import Event, ServerConnection
from irc.client_aio import AioConnection, AioReactor
from jaraco.stream.buffer import LenientDecodingLineBuffer

from chat.base import ChatEvent, EventSink, Outage, clean_text, jittered_backoff
from chat.config import IrcConfig
from chat.irclines import DEFAULT_PREFIX_RESERVE, privmsg_lines
from chat.outbox import Outbox
from meetings.model import LineKind
from meetings.nicks import fold

log = logging.getLogger(__name__)

# Capabilities we use when the server offers them.
WANTED_CAPS = ("server-time", "account-tag", "extended-join", "account-notify",
               "message-tags", "multi-prefix")
WHOX_QUERY_ID = "147"  # marks the replies to our own WHOX queries


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


def _server_time(event: Event) -> datetime:
    stamp = _tag(event, "time")
    if stamp:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(stamp).astimezone(UTC)
    return datetime.now(UTC)


class IrcAdapter:
    """One IRC network: connection, CAP/SASL, accounts, reconnects and the PING watchdog;
    hands every channel line to the recorder as a ChatEvent and sends what it is told to
    through its Outbox at the token-bucket rate. Knows nothing about meetings."""

    replays_missed = False  # what is said while the bot is away is lost (unless a bouncer)

    def __init__(self, config: IrcConfig) -> None:
        self.config = config
        self.name = config.name
        self._sink: EventSink | None = None
        self._conn: AioConnection | None = None
        self._registered = asyncio.Event()
        self._lost: asyncio.Event = asyncio.Event()
        self._closing = False
        self._outbox = Outbox()
        self._out_ready = asyncio.Event()
        self._out_empty = asyncio.Event()
        self._out_empty.set()
        self._tokens = float(config.send_burst)
        self._last_refill = time.monotonic()
        self._last_received = time.monotonic()
        self._last_heard = datetime.now(UTC)  # the same, as a time for the log
        # Since when the connection is down, once it has been up: lines said meanwhile
        # may be missing, and the recorder is told when it is back (an Outage).
        self._down_since: datetime | None = None
        self._prefix_reserve = DEFAULT_PREFIX_RESERVE
        self._members: dict[str, set[str]] = {}  # folded channel -> folded nicks
        # folded nick -> services account, from extended-join, WHOX, account-notify and
        # account-tag: lines carry the account even where the server does not tag them.
        self._accounts: dict[str, str] = {}
        self._whox = False  # the server answers WHO with the fields we ask for
        self._caps: set[str] = set()
        self._sasl_settled = False
        self._offered: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def nick(self) -> str:
        if self._conn is not None and self._conn.real_nickname:
            return str(self._conn.real_nickname)
        return self.config.nick

    # -- public interface -------------------------------------------------------------

    async def run(self, sink: EventSink) -> None:
        self._sink = sink
        loop = asyncio.get_running_loop()
        reactor = AioReactor(loop=loop)
        for name in ("welcome", "cap", "authenticate", "saslsuccess", "saslfail",
                     "sasltoolong", "saslaborted", "nicknameinuse", "erroneusnickname",
                     "pubmsg", "action", "pubnotice", "join", "part", "kick", "quit", "nick",
                     "topic", "namreply", "disconnect", "ping", "pong", "featurelist",
                     "whospcrpl", "account"):
            reactor.add_global_handler(name, self._dispatch, 0)
        for task in self._tasks:  # run() again after a failure: one sender, one watchdog
            task.cancel()
        self._tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._watchdog())]
        attempt = 0
        while not self._closing:
            self._lost.clear()
            self._registered.clear()
            try:
                conn = reactor.server()
                conn.buffer_class = LenientDecodingLineBuffer
                self._conn = conn
                await conn.connect(
                    self.config.host, self.config.port, self.config.nick,
                    password=self.config.password or None,
                    username=self.config.username or self.config.nick,
                    ircname=self.config.realname, connect_factory=self._open_socket,
                )
                await self._lost.wait()
                if self._registered.is_set():
                    attempt = 0
            except OSError as exc:
                log.warning("%s: cannot connect to %s:%s: %s", self.name, self.config.host,
                            self.config.port, exc)
            if self._closing:
                break
            delay = self._backoff(attempt)
            attempt += 1
            log.info("%s: reconnecting in %.1fs", self.name, delay)
            await asyncio.sleep(delay)

    def say(self, room: str, text: str, *, urgent: bool = False) -> None:
        if self._outbox.put(room, text, privmsg_lines(room, text, self._prefix_reserve),
                            urgent=urgent):
            self._out_empty.clear()
            self._out_ready.set()

    async def close(self) -> None:
        self._closing = True
        conn = self._conn
        if conn is not None and conn.connected:
            await self._flush(5)
            with contextlib.suppress(Exception):
                conn.disconnect("openminutes stopping")
        self._lost.set()
        for task in self._tasks:
            task.cancel()

    # -- connection -------------------------------------------------------------------

    async def _open_socket(self, protocol: asyncio.Protocol, address: tuple[str, int]) -> Any:
        loop = asyncio.get_running_loop()
        context: ssl.SSLContext | None = None
        if self.config.tls:
            context = ssl.create_default_context()
            if not self.config.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        transport, proto = await loop.create_connection(
            lambda: protocol, address[0], address[1], ssl=context
        )
        # Ask for capabilities before NICK/USER go out, so registration waits for CAP END.
        transport.write(b"CAP LS 302\r\n")
        self._offered.clear()
        self._caps.clear()
        self._sasl_settled = False  # logged in, or told why not
        self._last_received = time.monotonic()
        return transport, proto

    def _backoff(self, attempt: int) -> float:
        """Jittered exponential backoff, capped, so a flapping server sees no tight loop."""
        return jittered_backoff(attempt, self.config.reconnect_max_delay)

    def _send_raw(self, line: str) -> None:
        if self._conn is not None and self._conn.connected:
            self._conn.send_raw(line)

    # -- events -----------------------------------------------------------------------

    def _dispatch(self, conn: ServerConnection, event: Event) -> None:
        # Anything from the server shows the connection is alive (PING included).
        self._last_received = time.monotonic()
        self._last_heard = datetime.now(UTC)
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _on_cap(self, event: Event) -> None:
        args = list(event.arguments)
        sub = args[0].upper() if args else ""
        if sub == "LS":
            more = len(args) > 2 and args[1] == "*"
            self._offered.update(c.split("=", 1)[0] for c in args[-1].split())
            if more:
                return
            wanted = [c for c in WANTED_CAPS if c in self._offered]
            if self.config.sasl_username and "sasl" in self._offered:
                wanted.append("sasl")
            elif self.config.sasl_username:
                self._without_login("the server offers no SASL")
                if self.config.sasl_required:
                    return
            if wanted:
                self._send_raw(f"CAP REQ :{' '.join(wanted)}")
            else:
                self._send_raw("CAP END")
        elif sub == "ACK":
            self._caps.update(args[-1].split())
            if "sasl" in self._caps and self.config.sasl_username:
                self._send_raw("AUTHENTICATE PLAIN")
            else:
                self._send_raw("CAP END")
        elif sub == "NAK":
            self._send_raw("CAP END")

    def _on_authenticate(self, event: Event) -> None:
        if event.target == "+":
            blob = f"\0{self.config.sasl_username}\0{self.config.sasl_password}".encode()
            encoded = base64.b64encode(blob).decode()
            for i in range(0, len(encoded), 400):
                self._send_raw(f"AUTHENTICATE {encoded[i:i + 400]}")
            if len(encoded) % 400 == 0:
                self._send_raw("AUTHENTICATE +")

    def _on_saslsuccess(self, event: Event) -> None:
        self._sasl_settled = True
        self._send_raw("CAP END")

    def _on_saslfail(self, event: Event) -> None:
        self._without_login("the SASL login failed")
        if not self.config.sasl_required:
            self._send_raw("CAP END")

    def _without_login(self, why: str) -> None:
        """SASL is configured but cannot happen: go on without an account, or, with
        sasl_required, leave before registering (and try again later)."""
        self._sasl_settled = True
        if self.config.sasl_required:
            log.error("%s: %s and sasl_required is set: not registering; will try again",
                      self.name, why)
            self._send_raw("QUIT :SASL login required")
        else:
            log.warning("%s: %s; registering without an account (sasl_username %s)",
                        self.name, why, self.config.sasl_username)

    _on_sasltoolong = _on_saslfail
    _on_saslaborted = _on_saslfail

    def _on_nicknameinuse(self, event: Event) -> None:
        if not self._registered.is_set():
            self._send_raw(f"NICK {self.nick}_")
            if self._conn is not None:
                self._conn.real_nickname = f"{self.nick}_"

    _on_erroneusnickname = _on_nicknameinuse

    def _on_welcome(self, event: Event) -> None:
        log.info("%s: registered as %s (caps: %s)", self.name, self.nick,
                 " ".join(sorted(self._caps)) or "none")
        if self.config.sasl_username and not self._sasl_settled:
            # Registered without any capability negotiation: no SASL happened.
            self._without_login("the server does not negotiate capabilities")
            if self.config.sasl_required:
                return
        self._registered.set()
        if self._down_since is not None and self._sink is not None:
            self._sink(Outage(self.name, self._down_since, datetime.now(UTC)))
            self._down_since = None
        self._members.clear()
        self._accounts.clear()
        self._whox = False  # until this server's ISUPPORT says so (it follows 001)
        for channel in self.config.channels:
            self._send_raw(f"JOIN {channel}")

    def _on_disconnect(self, event: Event) -> None:
        log.warning("%s: disconnected", self.name)
        if self._registered.is_set() and self._down_since is None and not self._closing:
            self._down_since = self._last_heard
        self._registered.clear()
        self._lost.set()

    def _emit(self, event: Event, room: str, kind: LineKind, text: str,
              nick: str | None = None, identity: str | None = None) -> None:
        if self._sink is None:
            return
        who = nick or event.source.nick
        tagged = identity or _tag(event, "account")
        if tagged:
            self._set_account(who, tagged)
        account = self._accounts.get(fold(who))
        cleaned = clean_text(text)
        self._sink(ChatEvent(
            network=self.name, room=room, nick=who, text=cleaned, kind=kind,
            time=_server_time(event),
            identity=account,
            event_id=_tag(event, "msgid") or _stamped_id(event, room, who, kind, cleaned),
        ))

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
            self._prefix_reserve = len(f":{event.source} ".encode())
        self._members.setdefault(fold(channel), set()).add(fold(nick))
        if "extended-join" in self._caps and event.arguments:
            # extended-join: JOIN #chan account :realname ("*": not logged in)
            self._set_account(nick, event.arguments[0])
        elif not own:
            # A nick seen before may belong to someone else now.
            self._accounts.pop(fold(nick), None)
        if self._whox:
            if own:  # who is already here, and under which account
                self._send_raw(f"WHO {channel} %tna,{WHOX_QUERY_ID}")
            elif not self._caps & {"extended-join", "account-tag"}:
                self._send_raw(f"WHO {nick} %tna,{WHOX_QUERY_ID}")
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
        self._members.get(fold(channel), set()).discard(fold(nick))
        if not self._channels_of(nick):  # out of sight: the nick is anyone's now
            self._accounts.pop(fold(nick), None)

    def _channels_of(self, nick: str) -> list[str]:
        folded = fold(nick)
        return [c for c, members in self._members.items() if folded in members]

    def _room_name(self, folded: str) -> str:
        for channel in self.config.channels:
            if fold(channel) == folded:
                return channel
        return folded

    def _reclaim_nick(self, gone: str) -> None:
        """Our configured nick was held (by our own ghost after a dead link); take it back."""
        if fold(gone) == fold(self.config.nick) and fold(self.nick) != fold(self.config.nick):
            self._send_raw(f"NICK {self.config.nick}")

    def _on_quit(self, event: Event) -> None:
        self._reclaim_nick(event.source.nick)
        reason = event.arguments[0] if event.arguments else ""
        for channel in self._channels_of(event.source.nick):
            self._emit(event, self._room_name(channel), LineKind.QUIT, reason)
            self._leave(channel, event.source.nick)
        self._accounts.pop(fold(event.source.nick), None)

    def _on_nick(self, event: Event) -> None:
        old, new = event.source.nick, event.target
        self._reclaim_nick(old)
        for channel in self._channels_of(old):
            self._emit(event, self._room_name(channel), LineKind.NICK, new)
            self._members[channel].discard(fold(old))
            self._members[channel].add(fold(new))
        account = self._accounts.pop(fold(old), None)
        if account:
            self._accounts[fold(new)] = account

    def _on_topic(self, event: Event) -> None:
        self._emit(event, event.target, LineKind.TOPIC,
                   event.arguments[0] if event.arguments else "")

    def _on_namreply(self, event: Event) -> None:
        # 353 me = #chan :@op +voice nick
        channel, names = event.arguments[1], event.arguments[2]
        members = self._members.setdefault(fold(channel), set())
        for name in names.split():
            members.add(fold(name.lstrip("~&@%+").split("!", 1)[0]))

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
            self._accounts.pop(fold(nick), None)
        else:
            self._accounts[fold(nick)] = account

    def _on_featurelist(self, event: Event) -> None:
        # 005 ISUPPORT; read here because the irc package skips tokens without a value.
        if any(arg == "WHOX" or arg.startswith("WHOX=") for arg in event.arguments):
            self._whox = True

    # -- output -----------------------------------------------------------------------

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.config.send_burst),
                           self._tokens + (now - self._last_refill) * self.config.send_rate)
        self._last_refill = now

    async def _sender(self) -> None:
        """Drain the output queue at the token-bucket rate, only while registered."""
        while True:
            if not self._outbox:
                self._out_empty.set()
                self._out_ready.clear()
                await self._out_ready.wait()
            await self._registered.wait()
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.config.send_rate)
                continue
            popped = self._outbox.pop()
            if popped is None:
                continue
            self._tokens -= 1
            room, line = popped
            try:
                self._send_raw(line)
            except Exception:
                log.exception("%s: could not send; will retry", self.name)
                self._outbox.push_back(room, line)
                await asyncio.sleep(1)

    async def _flush(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._out_empty.wait()

    async def _watchdog(self) -> None:
        """A connection that goes silent without closing is noticed by PING timeout."""
        interval = self.config.ping_interval
        pinged = False
        while True:
            await asyncio.sleep(min(interval, 15) / 2)
            conn = self._conn
            if conn is None or not conn.connected:
                pinged = False
                continue
            silent = time.monotonic() - self._last_received
            if silent > interval + self.config.ping_timeout:
                log.warning("%s: no reply for %.0fs, reconnecting", self.name, silent)
                pinged = False
                with contextlib.suppress(Exception):
                    conn.disconnect("ping timeout")
            elif silent > interval and not pinged:
                self._send_raw(f"PING :openminutes-{int(time.time())}")
                pinged = True
            elif silent <= interval:
                pinged = False
