"""Real servers for tests (ngIRCd) and a minimal IRC client to talk to them."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, name: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{name} did not start")


class _Process:
    """A server the tests start as a child process and stop with SIGTERM."""

    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class NgIrcd(_Process):
    def __init__(self, folder: Path, port: int, *, flood_limits: bool) -> None:
        self.folder = folder
        self.port = port
        self.flood_limits = flood_limits
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("ngircd") or "/usr/sbin/ngircd"
        if not os.path.exists(binary):
            raise RuntimeError("ngircd is not installed (make test installs it)")
        penalty = "" if self.flood_limits else "  MaxPenaltyTime = 0\n"
        conf = self.folder / "ngircd.conf"
        conf.write_text(
            "[Global]\n  Name = irc.test.local\n  Listen = 127.0.0.1\n"
            f"  Ports = {self.port}\n  MotdPhrase = \"test server\"\n"
            f"  PidFile = {self.folder}/ngircd.pid\n"
            "[Limits]\n  MaxConnectionsIP = 0\n  MaxJoins = 0\n  MaxNickLength = 30\n"
            f"{penalty}"
            "[Options]\n  DNS = no\n  Ident = no\n  PAM = no\n"
        )
        # ngIRCd drops to nobody when started as root: its files must be readable.
        self.folder.chmod(0o777)
        conf.chmod(0o644)
        self.process = subprocess.Popen(
            [binary, "-n", "-f", str(conf)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, "ngircd", 10)

class InspIrcd(_Process):
    """A real InspIRCd 3 with its default connect class: fakelag, command rate and recvq
    limits as a network would have them."""

    def __init__(self, folder: Path, port: int, *, services_port: int | None = None,
                 sasl: bool = False, msgid: bool = False, limits: bool = True) -> None:
        self.folder = folder
        self.port = port
        self.sasl = sasl  # with services: clients may log in with SASL PLAIN
        # msgid: every message carries IRCv3 msgid and server-time tags
        self.msgid = msgid
        self.limits = limits  # False: no fakelag (test clients talking at 20 lines/s)
        # With a port: accounts exist, set by a services server (FakeServices) linking
        # there; the server offers WHOX but neither account-tag nor extended-join.
        self.services_port = services_port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("inspircd") or "/usr/sbin/inspircd"
        if not os.path.exists(binary):
            raise RuntimeError("inspircd is not installed (make test installs it)")
        conf = self.folder / "inspircd.conf"
        services = "" if self.services_port is None else (
            '<module name="spanningtree">\n<module name="services_account">\n'
            f'<bind address="127.0.0.1" port="{self.services_port}" type="servers">\n'
            f'<link name="{FakeServices.NAME}" ipaddr="127.0.0.1" port="{self.services_port}" '
            f'allowmask="127.0.0.0/8" sendpass="{FakeServices.PASSWORD}" '
            f'recvpass="{FakeServices.PASSWORD}">\n'
            f'<uline server="{FakeServices.NAME}" silent="yes">\n') + (
            '<module name="cap">\n<module name="sasl">\n'
            f'<sasl target="{FakeServices.NAME}" requiressl="no">\n' if self.sasl else "")
        conf.write_text(
            '<server name="irc.insp.test" description="test" network="Test" id="1IR">\n'
            '<admin name="t" nick="t" email="t@example.org">\n'
            f'<bind address="127.0.0.1" port="{self.port}" type="clients">\n'
            '<connect allow="*" resolvehostnames="no" useident="no"'
            + ('' if self.limits else ' fakelag="no" commandrate="100000" threshold="1000"'
               ' recvq="65536" sendq="1048576" localmax="100" globalmax="100"')
            + '>\n'
            '<performance nouserdns="yes">\n'
            f'<pid file="{self.folder}/inspircd.pid">\n'
            '<options>\n' + services + (
                ('' if self.sasl else '<module name="cap">\n') +
                '<module name="ircv3">\n<module name="ircv3_ctctags">\n'
                '<module name="ircv3_msgid">\n<module name="ircv3_servertime">\n'
                if self.msgid else "")
        )
        command = [binary, "--nofork", "--config", str(conf)]
        if os.geteuid() == 0:
            command.insert(2, "--runasroot")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.port, "inspircd", 15)


class FakeServices:
    """Just enough of a services server (InspIRCd's server protocol 1205) to log users in
    to accounts, as NickServ would."""

    NAME = "services.test"
    SID = "9SV"
    PASSWORD = "linkpass"  # a throwaway test server's link password

    def __init__(self, passwords: dict[str, str] | None = None) -> None:
        # SASL PLAIN logins it accepts: account -> password.
        self.passwords = dict(passwords or {})
        self.uids: dict[str, str] = {}  # nick (lower case) -> UID
        self.lines: list[str] = []
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._linked = asyncio.Event()
        self._seen = asyncio.Event()

    async def link(self, port: int) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        for line in ("CAPAB START 1205", "CAPAB CAPABILITIES :CASEMAPPING=rfc1459",
                     "CAPAB END",
                     f"SERVER {self.NAME} {self.PASSWORD} 0 {self.SID} :fake services",
                     f":{self.SID} BURST {int(time.time())}", f":{self.SID} ENDBURST"):
            self._send(line)
        self._task = asyncio.create_task(self._read(reader))
        await asyncio.wait_for(self._linked.wait(), 10)

    def login(self, nick: str, account: str) -> None:
        uid = self.uids[nick.lower()]
        self._send(f":{self.SID} METADATA {uid} accountname :{account}")

    async def wait_for_user(self, nick: str) -> None:
        while nick.lower() not in self.uids:
            self._seen.clear()
            await asyncio.wait_for(self._seen.wait(), 10)

    def _send(self, line: str) -> None:
        assert self._writer is not None
        self._writer.write(line.encode() + b"\r\n")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while raw := await reader.readline():
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.lines.append(line)
            words = line.split(" ")
            if words[0].startswith("@"):
                words = words[1:]
            source = words[0][1:] if words[0].startswith(":") else ""
            command = words[1] if source else words[0]
            args = words[2:] if source else words[1:]
            if command == "ENDBURST":
                self._linked.set()
            elif command == "UID":  # UID uuid ts nick host dhost ident ip signon modes ...
                self.uids[args[2].lower()] = args[0]
            elif command == "NICK" and source:
                for nick, uid in list(self.uids.items()):
                    if uid == source:
                        del self.uids[nick]
                self.uids[args[0].lower()] = source
            elif command == "QUIT" and source:
                self.uids = {n: u for n, u in self.uids.items() if u != source}
            elif command == "PING":
                self._send(f":{self.SID} PONG {args[-1] if args else ''}")
            elif command == "ENCAP" and len(args) >= 5 and args[1] == "SASL":
                self._sasl(source, args[2], args[4], args[5] if len(args) > 5 else "")
            self._seen.set()

    def _sasl(self, server: str, uid: str, mode: str, data: str) -> None:
        """SASL PLAIN as services do it over the link: ask for the data, check it, set the
        account and say how it went (D S: success, D F: failure)."""
        def reply(*words: str) -> None:
            self._send(f":{self.SID} ENCAP {server} SASL {self.SID} {uid} {' '.join(words)}")

        if mode == "S":
            if data == "PLAIN":
                reply("C", "+")
            else:
                reply("M", "PLAIN")
                reply("D", "F")
        elif mode == "C":
            try:
                _, account, password = base64.b64decode(data).decode().split("\0")
            except ValueError:
                reply("D", "F")
                return
            if self.passwords.get(account) == password:
                self._send(f":{self.SID} METADATA {uid} accountname :{account}")
                reply("D", "S")
            else:
                reply("D", "F")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()


class IrcClient:
    """Just enough IRC to act as a meeting participant in a test."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[str] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    async def connect(self, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick} 0 * :{self.nick}")
        self._task = asyncio.create_task(self._read())
        await self.wait_for(" 001 ")

    def send(self, line: str) -> None:
        assert self._writer is not None
        self._writer.write(line.encode() + b"\r\n")

    async def join(self, channel: str) -> None:
        self.send(f"JOIN {channel}")
        await self.wait_for(f" 366 {self.nick} {channel}")

    def say(self, channel: str, text: str) -> None:
        self.send(f"PRIVMSG {channel} :{text}")

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            raw = await self._reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("PING"):
                self.send("PONG" + line[4:])
            self.lines.append(line)
            self._new.set()

    async def wait_for(self, fragment: str, seconds: float = 10.0, count: int = 1) -> list[str]:
        """Wait until `count` received lines contain fragment; returns them."""
        async with asyncio.timeout(seconds):
            while True:
                found = [ln for ln in self.lines if fragment in ln]
                if len(found) >= count:
                    return found
                self._new.clear()
                await self._new.wait()

    def _joins(self, nick: str) -> int:
        joins = sum(ln.startswith(f":{nick}!") and " JOIN " in ln for ln in self.lines)
        # Someone already there when we joined is listed in the NAMES reply instead.
        listed = any(
            f" 353 {self.nick} " in ln
            and nick in [n.lstrip("@+%~&") for n in ln.split(" :", 1)[-1].split()]
            for ln in self.lines
        )
        return joins + listed

    async def wait_joined(self, nick: str, count: int = 1, seconds: float = 20.0) -> None:
        """Wait until nick has joined `count` times (a restarted bot joins again)."""
        async with asyncio.timeout(seconds):
            while self._joins(nick) < count:
                self._new.clear()
                await self._new.wait()

    def messages_from(self, nick: str) -> list[str]:
        prefix = f":{nick}!"
        return [ln.split(" :", 1)[1] for ln in self.lines
                if ln.startswith(prefix) and " PRIVMSG " in ln]

    async def close(self) -> None:
        if self._writer is not None:
            self.send("QUIT :bye")
            await asyncio.sleep(0.05)
            self._writer.close()
        if self._task is not None:
            self._task.cancel()


class Znc(_Process):
    """A real ZNC bouncer in front of a server: one user "bot" (password "secret") on one
    network "test", keeping its channel buffer across playbacks."""

    def __init__(self, port: int, upstream: int, channel: str) -> None:
        # Its own folder directly under /tmp: it may run as nobody, who cannot enter
        # pytest's private temporary folders.
        self.folder = Path(tempfile.mkdtemp(prefix="openminutes-znc-"))
        self.port = port
        self.upstream = upstream
        self.channel = channel
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("znc")
        if binary is None:
            raise RuntimeError("znc is not installed (make test installs it)")
        (self.folder / "configs").mkdir(parents=True, exist_ok=True)
        (self.folder / "configs" / "znc.conf").write_text(
            "Version = 1.8.2\n"
            f"<Listener l>\n Port = {self.port}\n IPv4 = true\n IPv6 = false\n SSL = false\n"
            "</Listener>\n"
            "<User bot>\n <Pass password>\n  Method = plain\n  Hash = secret\n </Pass>\n"
            " Nick = zbot\n AltNick = zbot_\n Ident = zbot\n RealName = zbot\n"
            " AutoClearChanBuffer = false\n ChanBufferSize = 1000\n"
            f" <Network test>\n  Server = 127.0.0.1 {self.upstream}\n"
            f"  <Chan {self.channel}>\n  </Chan>\n </Network>\n</User>\n"
        )
        command = [binary, "--foreground", "--datadir", str(self.folder)]
        if os.geteuid() == 0:
            # ZNC stalls for 30 s when started as root: run it as nobody.
            subprocess.run(["chown", "-R", "nobody", str(self.folder)], check=True)
            command = ["runuser", "-u", "nobody", "--", *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.port, "znc", 15)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class TcpProxy:
    """A TCP relay in front of a server, for real socket faults: `cut()` closes every
    connection and refuses new ones, `stall()` keeps them open and passes nothing (a
    black-holed link), `heal()` lets traffic through again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._open = asyncio.Event()
        self._open.set()
        self.refusing = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        self.refusing = True
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self.refusing = False
        self._open.set()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
