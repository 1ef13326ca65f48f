"""A small scripted IRC server that keeps channel history and answers IRCv3
`draft/chathistory` exactly as the specification shows it
(https://ircv3.net/specs/extensions/chathistory): no server with chathistory installs on
these machines (Debian's package named `ergo` is a chemistry program).

It does what the bot and the test clients need and no more: CAP 302 (server-time,
message-tags, batch, draft/chathistory), registration with ISUPPORT `CHATHISTORY=`,
JOIN/PART/QUIT with NAMES, PRIVMSG relayed to a channel with `time` and `msgid` tags for
those who asked for them, PING/PONG, MODE queries, and

    C: CHATHISTORY AFTER #chan timestamp=2026-12-03T12:00:00.000Z 100
    S: :irc.history.test BATCH +1 chathistory #chan
    S: @batch=1;time=2026-12-03T12:00:01.000Z;msgid=42 :alice!alice@host PRIVMSG #chan :hi
    S: :irc.history.test BATCH -1

(also `msgid=` as the reference, LATEST and BEFORE). Messages are kept in order as
relayed, with the server's time."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

NAME = "irc.history.test"
CAPS = ("server-time", "message-tags", "batch", "draft/chathistory")
LIMIT = 100


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class _Message:
    msgid: str
    time: datetime
    source: str
    channel: str
    text: str


@dataclass(eq=False)  # each connection is itself: hashed by identity
class _Client:
    writer: asyncio.StreamWriter
    nick: str = ""
    user: str = ""
    caps: set[str] = field(default_factory=set)
    registered: bool = False
    negotiating: bool = False

    @property
    def source(self) -> str:
        return f"{self.nick}!{self.user or self.nick}@127.0.0.1"

    def send(self, line: str) -> None:
        if not self.writer.is_closing():
            self.writer.write(line.encode() + b"\r\n")


class ChatHistoryServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: list[_Client] = []
        self.channels: dict[str, set[_Client]] = {}
        self.history: dict[str, list[_Message]] = {}
        self.requests: list[str] = []  # every CHATHISTORY line received
        self._ids = itertools.count(1)
        self._batches = itertools.count(1)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        for client in list(self.clients):
            client.writer.close()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self.clients.append(client)
        try:
            while raw := await reader.readline():
                self._handle(client, raw.decode("utf-8", "replace").rstrip("\r\n"))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._quit(client, "Connection closed")

    # -- the protocol -------------------------------------------------------------------

    def _handle(self, client: _Client, line: str) -> None:
        if line.startswith("@"):
            line = line.split(" ", 1)[1] if " " in line else ""
        head, _, trailing = line.partition(" :")
        words = head.split()
        if not words:
            return
        command, args = words[0].upper(), words[1:] + ([trailing] if " :" in line else [])
        handler = getattr(self, f"_on_{command.lower()}", None)
        if handler is not None:
            handler(client, args)
        elif client.registered:
            client.send(f":{NAME} 421 {client.nick} {command} :Unknown command")

    def _on_cap(self, client: _Client, args: list[str]) -> None:
        sub = args[0].upper() if args else ""
        if sub == "LS":
            client.negotiating = True
            client.send(f":{NAME} CAP * LS :{' '.join(CAPS)}")
        elif sub == "REQ":
            wanted = args[-1].split()
            if all(c in CAPS for c in wanted):
                client.caps.update(wanted)
                client.send(f":{NAME} CAP * ACK :{' '.join(wanted)}")
            else:
                client.send(f":{NAME} CAP * NAK :{' '.join(wanted)}")
        elif sub == "END":
            client.negotiating = False
            self._maybe_welcome(client)

    def _on_nick(self, client: _Client, args: list[str]) -> None:
        wanted = args[0]
        if any(c is not client and c.nick.lower() == wanted.lower() for c in self.clients):
            client.send(f":{NAME} 433 {client.nick or '*'} {wanted} :Nickname is already in use")
            return
        old = client.source
        client.nick = wanted
        if client.registered:
            for member in self._peers(client) | {client}:
                member.send(f":{old} NICK :{wanted}")
        self._maybe_welcome(client)

    def _on_user(self, client: _Client, args: list[str]) -> None:
        client.user = args[0]
        self._maybe_welcome(client)

    def _maybe_welcome(self, client: _Client) -> None:
        if client.registered or client.negotiating or not client.nick or not client.user:
            return
        client.registered = True
        nick = client.nick
        client.send(f":{NAME} 001 {nick} :Welcome to the history test network {nick}")
        client.send(f":{NAME} 002 {nick} :Your host is {NAME}")
        client.send(f":{NAME} 003 {nick} :This server was created today")
        client.send(f":{NAME} 004 {nick} {NAME} test-1 i nt")
        client.send(f":{NAME} 005 {nick} CHANTYPES=# CASEMAPPING=ascii CHATHISTORY={LIMIT} "
                    ":are supported by this server")
        client.send(f":{NAME} 422 {nick} :MOTD File is missing")

    def _on_ping(self, client: _Client, args: list[str]) -> None:
        client.send(f":{NAME} PONG {NAME} :{args[-1] if args else ''}")

    def _on_pong(self, client: _Client, args: list[str]) -> None:
        pass

    def _on_mode(self, client: _Client, args: list[str]) -> None:
        if args and args[0].startswith("#") and len(args) == 1:
            client.send(f":{NAME} 324 {client.nick} {args[0]} +nt")

    def _on_who(self, client: _Client, args: list[str]) -> None:
        client.send(f":{NAME} 315 {client.nick} {args[0] if args else '*'} :End of WHO")

    def _on_join(self, client: _Client, args: list[str]) -> None:
        for channel in args[0].split(","):
            key = channel.lower()
            members = self.channels.setdefault(key, set())
            members.add(client)
            for member in members:
                member.send(f":{client.source} JOIN {channel}")
            names = " ".join(m.nick for m in members)
            client.send(f":{NAME} 353 {client.nick} = {channel} :{names}")
            client.send(f":{NAME} 366 {client.nick} {channel} :End of /NAMES list.")

    def _on_part(self, client: _Client, args: list[str]) -> None:
        channel = args[0]
        members = self.channels.get(channel.lower(), set())
        for member in members:
            member.send(f":{client.source} PART {channel}")
        members.discard(client)

    def _on_quit(self, client: _Client, args: list[str]) -> None:
        self._quit(client, args[-1] if args else "Quit")
        client.writer.close()

    def _quit(self, client: _Client, reason: str) -> None:
        if client not in self.clients:
            return
        self.clients.remove(client)
        for member in self._peers(client):
            member.send(f":{client.source} QUIT :{reason}")
        for members in self.channels.values():
            members.discard(client)

    def _peers(self, client: _Client) -> set[_Client]:
        return {m for members in self.channels.values() if client in members
                for m in members if m is not client}

    def _on_privmsg(self, client: _Client, args: list[str]) -> None:
        target, text = args[0], args[-1]
        members = self.channels.get(target.lower())
        if members is None or client not in members:
            return
        message = _Message(str(next(self._ids)), datetime.now(UTC), client.source, target,
                           text)
        self.history.setdefault(target.lower(), []).append(message)
        for member in members:
            if member is not client:
                member.send(self._tagged(member, message))

    def _tagged(self, to: _Client, message: _Message, batch: str | None = None) -> str:
        tags = []
        if batch is not None:
            tags.append(f"batch={batch}")
        if "server-time" in to.caps:
            tags.append(f"time={_stamp(message.time)}")
        if "message-tags" in to.caps:
            tags.append(f"msgid={message.msgid}")
        prefix = "@" + ";".join(tags) + " " if tags else ""
        return f"{prefix}:{message.source} PRIVMSG {message.channel} :{message.text}"

    def _on_chathistory(self, client: _Client, args: list[str]) -> None:
        self.requests.append(" ".join(args))
        if "draft/chathistory" not in client.caps or len(args) < 4:
            client.send(f":{NAME} FAIL CHATHISTORY INVALID_PARAMS {' '.join(args)} "
                        ":Invalid parameters")
            return
        sub, target, reference, count = args[0].upper(), args[1], args[2], args[3]
        kept = self.history.get(target.lower(), [])
        limit = min(int(count), LIMIT) if count.isdigit() else LIMIT
        if sub == "LATEST" and reference == "*":
            found = kept[-limit:]
        else:
            kind, _, value = reference.partition("=")
            if kind == "msgid":
                at = next((i for i, m in enumerate(kept) if m.msgid == value), None)
                if at is None:
                    client.send(f":{NAME} FAIL CHATHISTORY INVALID_MSGREFTYPE {sub} {target} "
                                ":Unknown msgid")
                    return
                after = list(kept[at + 1:])
                before = kept[:at]
            elif kind == "timestamp":
                when = _parse_stamp(value)
                after = [m for m in kept if m.time > when]
                before = [m for m in kept if m.time < when]
            else:
                client.send(f":{NAME} FAIL CHATHISTORY INVALID_PARAMS {sub} :Bad reference")
                return
            found = (after[:limit] if sub in ("AFTER", "LATEST") else before[-limit:])
            if sub == "LATEST":
                found = after[-limit:]
        ref = str(next(self._batches))
        client.send(f":{NAME} BATCH +{ref} chathistory {target}")
        for message in found:
            client.send(self._tagged(client, message, batch=ref))
        client.send(f":{NAME} BATCH -{ref}")
