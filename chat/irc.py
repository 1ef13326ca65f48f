"""IRC adapter on the `irc` package's asyncio client: the socket (TLS), reconnects with
backoff, the PING watchdog and a token-bucket output queue so the bot is never kicked for
flooding. The protocol itself (CAP, SASL, accounts, members) is chat/irc_session.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from irc.client import Event, ServerConnection
from irc.client_aio import AioConnection, AioReactor
from jaraco.stream.buffer import LenientDecodingLineBuffer

from openminutes.chat.base import (
    ChatEvent,
    Checkpoint,
    EventSink,
    History,
    Outage,
    ProbeError,
    StateStore,
    jittered_backoff,
    replaced_topics,
)
from openminutes.chat.config import IrcConfig
from openminutes.chat.irc_session import IrcSession
from openminutes.chat.irclines import privmsg_lines
from openminutes.chat.outbox import Outbox, chatter_reserve
from openminutes.meetings.nicks import fold

log = logging.getLogger(__name__)
# Besides what the session handles: the connection's end, and what shows it is alive.
_ADAPTER_EVENTS = ("disconnect", "ping", "pong")


class IrcAdapter:
    """One IRC network: the connection, reconnects and the PING watchdog around an
    IrcSession, which hands every channel line to the recorder as a ChatEvent; sends what
    it is told to through its Outbox at the token-bucket rate. Knows nothing about
    meetings."""

    replays_missed = False  # what is said while the bot is away is lost (unless a bouncer)

    def __init__(self, config: IrcConfig, store: StateStore | None = None) -> None:
        self.config = config
        self.store = store
        self.name = config.name
        # Every line it logs names its network ([logging] format = "json").
        self.log = logging.LoggerAdapter(log, {"network": config.name})
        self._sink: EventSink | None = None
        self._conn: AioConnection | None = None
        self._registered = asyncio.Event()
        self._lost: asyncio.Event = asyncio.Event()
        self._joined_some = asyncio.Event()  # a JOIN came (the bot's, or anyone's)
        self._closing = False
        self._outbox = Outbox()
        self._out_ready = asyncio.Event()
        self._out_empty = asyncio.Event()
        self._out_empty.set()
        self._tokens = float(config.send_burst)
        self._reserve = chatter_reserve(config.send_burst)
        self._last_refill = time.monotonic()
        self._last_received = time.monotonic()
        self._session = IrcSession(config, self._send_raw, self._emit)
        self._tasks: list[asyncio.Task[None]] = []
        self.connect_error = ""  # why the last connection attempt failed
        self.reconnects = 0  # connections made after the first (for /metrics)
        self.delayed = 0  # lines that waited for the flood limit (for /metrics)
        # Whether the bot may speak in a room now (a recorder group: only the room's
        # recorder, while its lease lasts); asked as each line leaves, not as it is queued.
        self.speaks: Callable[[str], bool] = lambda _room: True
        self.silenced = 0  # lines not sent: the room's lease was not (or no longer) held
        self._connected_once = False

    @property
    def nick(self) -> str:
        return self._session.nick

    def _emit(self, event: ChatEvent | Checkpoint | Outage) -> None:
        if self._sink is not None:
            self._sink(event)

    # -- public interface -------------------------------------------------------------

    async def run(self, sink: EventSink) -> None:
        self._sink = sink
        if self.store is not None:  # topics that meetings open before a restart replaced
            self._session.replaced_topics.update(
                replaced_topics(await self.store.state(self.name)))
        loop = asyncio.get_running_loop()
        reactor = AioReactor(loop=loop)
        for name in (*IrcSession.events(), *_ADAPTER_EVENTS):
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
                if self._connected_once:
                    self.reconnects += 1
                self._connected_once = True
                self.connect_error = ""
                await self._lost.wait()
                if self._registered.is_set():
                    attempt = 0
            except OSError as exc:
                self.connect_error = exc.strerror or str(exc) or type(exc).__name__
                self.log.warning("%s: cannot connect to %s:%s: %s", self.name, self.config.host,
                                 self.config.port, exc)
            if self._closing:
                break
            delay = self._backoff(attempt)
            attempt += 1
            self.log.info("%s: reconnecting in %.1fs", self.name, delay)
            await asyncio.sleep(delay)

    def joined(self, channel: str) -> bool:
        """In the channel now (a recorder group takes and keeps only rooms it is in)."""
        session = self._session
        return session.registered and fold(session.nick) in session.members.get(
            fold(channel), ())

    async def history(self, room: str, since: datetime,
                      seconds: float = 15.0) -> History | None:
        """What the server kept of `room` after `since` (IRCv3 draft/chathistory), once the
        bot is in the room; None where the server keeps no history or does not answer."""
        try:
            async with asyncio.timeout(seconds):
                await self._registered.wait()
                if not self._session.keeps_history:
                    return None  # known at registration: no need to wait for the room
                while not self.joined(room):
                    self._joined_some.clear()
                    await self._joined_some.wait()
                answer: asyncio.Future[History] = asyncio.get_running_loop().create_future()

                def done(events: list[ChatEvent], complete: bool) -> None:
                    if not answer.done():
                        answer.set_result(History(events, complete))

                if not self._session.fetch_history(room, since, done):
                    return None
                return await answer
        except TimeoutError:
            self.log.warning("%s: no history of %s from the server within %.0f s", self.name,
                             room, seconds)
            return None

    @property
    def connected(self) -> bool:
        """Registered on the server now (for /healthz)."""
        return self._registered.is_set()

    @property
    def waiting(self) -> int:
        """Lines queued behind the flood limit (for /metrics)."""
        return len(self._outbox)

    async def probe(self, seconds: float = 15.0) -> str:
        """Connect, register (SASL included), leave: what happened, for `openminutes check`;
        raises ProbeError saying what failed."""
        where = f"{self.config.host}:{self.config.port}"
        runner = asyncio.create_task(self.run(lambda _event: None))
        try:
            async with asyncio.timeout(seconds):
                while not self._registered.is_set():
                    session = self._session
                    if self.connect_error:
                        raise ProbeError(f"cannot connect to {where}: {self.connect_error}")
                    if session.login_problem and self.config.sasl_username:
                        raise ProbeError(f"{session.login_problem} (sasl_username "
                                         f"{self.config.sasl_username!r} on {where})")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise ProbeError(f"no registration on {where} within {seconds:.0f} s") from None
        finally:
            await self.close()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
        login = (f"; SASL: logged in as {self.config.sasl_username}"
                 if self._session.logged_in else "")
        return f"registered as {self._session.nick} on {where}{login}"

    def say(self, room: str, text: str, *, urgent: bool = False) -> None:
        self._enqueue(room, text, privmsg_lines(room, text, self._session.prefix_reserve),
                      urgent=urgent)

    def set_topic(self, room: str, text: str) -> None:
        """Set the channel topic where the bot may (op, or the channel is not +t); say
        nothing where it may not."""
        self._queue_raw(room, self._session.topic_line(room, text)
                        if self.config.set_topic else None)

    def restore_topic(self, room: str) -> None:
        """Put back the topic the meeting's first #topic replaced."""
        self._queue_raw(room, self._session.restore_line(room))

    def _queue_raw(self, room: str, line: str | None) -> None:
        # A TOPIC still waiting is overtaken by the newer one: only the last is seen.
        if line is not None:
            self._enqueue(room, line, [line], replaces="topic")

    def _enqueue(self, room: str, text: str, lines: list[str], *, urgent: bool = False,
                 replaces: str | None = None) -> None:
        """Lines for the sender, which drains them at the token-bucket rate."""
        if self._outbox.put(room, text, lines, urgent=urgent, replaces=replaces):
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
        transport.write(f"{self._session.connection_made()}\r\n".encode())
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
        if event.type == "disconnect":
            self.log.warning("%s: disconnected", self.name)
            self._session.connection_lost(closing=self._closing)
            self._registered.clear()
            self._lost.set()
            return
        self._session.handle(event)
        if event.type == "join":
            self._joined_some.set()
        if self._session.registered and not self._registered.is_set():
            self._registered.set()

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
            # Chatter leaves the reserve to urgent lines, which may come while it waits.
            need = 1.0 if self._outbox.urgent_waiting else 1.0 + self._reserve
            if self._tokens < need:
                self.delayed += 1
                self._out_ready.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout((need - self._tokens) / self.config.send_rate):
                        await self._out_ready.wait()
                continue
            popped = self._outbox.pop(chatter=self._tokens >= 1.0 + self._reserve)
            if popped is None:
                continue
            room, line = popped
            if not self.speaks(room):
                self.silenced += 1
                continue
            self._tokens -= 1
            try:
                self._send_raw(line)
            except Exception:
                self.log.exception("%s: could not send; will retry", self.name)
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
                self.log.warning("%s: no reply for %.0fs, reconnecting", self.name, silent)
                pinged = False
                with contextlib.suppress(Exception):
                    conn.disconnect("ping timeout")
            elif silent > interval and not pinged:
                self._send_raw(f"PING :openminutes-{int(time.time())}")
                pinged = True
            elif silent <= interval:
                pinged = False
