"""Redundant recorders on PostgreSQL: two `openminutes run` processes on one database
and one ngIRCd record each line once, whichever of them dies (SIGKILL, its database
link, its IRC link), and speak with one voice; SQLite refuses a second `run`."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from openminutes.chat.base import ChatEvent
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import Meeting, MeetingSettings
from openminutes.plugins import default_registry
from openminutes.runtime.app import _targets
from openminutes.runtime.config import parse
from openminutes.runtime.merge import unstored
from openminutes.storage import Storage
from openminutes.storage.errors import FencedError
from openminutes.storage.group import Fence, Report
from openminutes.storage.records import MeetingRef
from tests.conftest import PG_ADMIN
from tests.helpers import Room
from tests.matrix_server import SERVER_NAME, Person, Synapse
from tests.servers import InspIrcd, IrcClient, NgIrcd, TcpProxy, free_port
from tests.test_matrix_integration import BOT, bot_account, people_on
from tests.test_matrix_integration import wait_joined as matrix_wait_joined

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "#ha"
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


# -- which heard lines were never stored (pure) ------------------------------------------

def _line(seq: int, nick: str, text: str, second: float, *, own: bool = False,
          event_id: str | None = None) -> Line:
    return Line(seq, T0 + timedelta(seconds=second), LineKind.MESSAGE, nick, text,
                own=own, event_id=event_id)


def _heard(nick: str, text: str, second: float, event_id: str | None = None) -> ChatEvent:
    return ChatEvent("test", CHANNEL, nick, text, LineKind.MESSAGE,
                     T0 + timedelta(seconds=second), event_id=event_id)


def test_unstored_is_what_follows_the_last_line_the_tail_holds() -> None:
    tail = [_line(1, "alice", "one", 0.0), _line(2, "minutebot1", "reply", 0.1, own=True),
            _line(3, "bob", "+1", 1.0), _line(4, "alice", "+1", 1.5)]
    heard = [_heard("alice", "one", 0.02), _heard("bob", "+1", 1.01),
             _heard("alice", "+1", 1.52), _heard("alice", "+1", 1.9), _heard("bob", "two", 2.0)]
    assert unstored(tail, heard) == heard[3:]  # the second "+1" of alice is new


def test_unstored_matches_by_event_id_where_the_server_gives_one() -> None:
    tail = [_line(1, "alice", "same", 0.0, event_id="m1")]
    heard = [_heard("alice", "same", 0.0, "m1"), _heard("alice", "same", 0.0, "m2")]
    assert unstored(tail, heard) == heard[1:]


def test_unstored_does_not_match_a_line_said_long_before() -> None:
    tail = [_line(1, "alice", "+1", 0.0)]
    heard = [_heard("alice", "+1", 60.0)]
    assert unstored(tail, heard) == heard
    assert unstored([], heard) == heard
    assert unstored(tail, []) == []


def test_the_group_is_one_attendee_and_never_an_owner() -> None:
    """After a takeover two recorders said the bot's lines: the bot is listed once (as
    MeetBot lists itself), under the latest nick; it never owns an action item."""
    engine = Engine(default_registry())
    meeting = Meeting("test", CHANNEL, MeetingSettings())
    for seq, (nick, text, own) in enumerate([
            ("alice", "#startmeeting", False), ("minutebot1", "Meeting started", True),
            ("bob", "hello", False), ("minutebot2", "Took over recording", True),
            ("alice", "#action minutebot2 bob to check the logs", False)], start=1):
        engine.apply(meeting, Line(seq, T0, LineKind.MESSAGE, nick, text, own=own))
    bot = [a for a in meeting.attendees() if a.nick.startswith("minutebot")]
    assert [(a.nick, a.lines, a.earlier) for a in bot] == [("minutebot2", 2, ("minutebot1",))]
    assert [list(a.owners) for a in meeting.actions()] == [["bob"]]


def test_reminders_go_only_where_this_process_records_the_room() -> None:
    config = parse('[[irc]]\nname = "test"\nhost = "h"\nnick = "b"\nchannels = ["#ha"]\n')
    bot = Room()
    records = {"#ha": False}
    find = _targets(config, {"test": bot}, lambda _network, room: records[room.lower()])
    assert find("#ha") == []
    records["#ha"] = True
    assert find("#HA") == [(bot, "#HA")]
    assert _targets(config, {"test": bot})("#ha") == [(bot, "#ha")]  # no group


# -- leases and fencing in PostgreSQL ------------------------------------------------------

def _report(holder: str) -> Report:
    return Report(holder, "host", 1, T0, {"test": holder}, {})


async def test_one_holder_per_room_and_a_stale_epoch_cannot_write(postgres_url: str) -> None:
    storage = await Storage.open(postgres_url)
    assert storage.group is not None
    room = ("test", CHANNEL)
    try:
        first = await storage.group.renew(_report("a"), [], [room], lease=0.5)
        second = await storage.group.renew(_report("b"), [], [room], lease=0.5)
        assert first.acquired == {room}
        assert first.held == {room: 1}
        assert second.acquired == set()
        assert second.held == {}
        assert second.peers == {"test": {"a"}}
        ref = MeetingRef("test", CHANNEL, T0, None, "")
        line = _line(1, "alice", "#startmeeting", 0.0)
        await storage.write_lines([(ref, line)], fence=Fence("a", first.held))
        await asyncio.sleep(0.6)  # a's lease lapses without a renewal
        taken = await storage.group.renew(_report("b"), [], [room], lease=5)
        assert taken.acquired == {room}
        assert taken.held == {room: 2}
        assert taken.previous == {room: "a"}
        with pytest.raises(FencedError) as fenced:
            await storage.write_lines([(ref, line._replace(seq=2))],
                                      fence=Fence("a", first.held))
        assert fenced.value.rooms == {room}
        # a renewal by the old holder keeps nothing and tells it so
        again = await storage.group.renew(_report("a"), [room], [room], lease=5)
        assert again.held == {}
        assert again.renewed == set()
        (record,) = await storage.open_meetings()
        assert [ln.text for ln in await storage.lines(record.id)] == ["#startmeeting"]
        await storage.group.release("b")
        freed = await storage.group.renew(_report("a"), [], [room], lease=5)
        assert freed.acquired == {room}
        assert freed.held == {room: 3}
    finally:
        await storage.close()


async def test_a_takeover_waits_for_the_write_in_flight(postgres_url: str) -> None:
    """The takeover must lock the lease row that a write holds shared: it comes after
    the write's commit, so the new recorder reads every line the old one wrote."""
    storage = await Storage.open(postgres_url)
    assert storage.group is not None
    room = ("test", CHANNEL)
    try:
        held = (await storage.group.renew(_report("a"), [], [room], lease=0.3)).held
        await asyncio.sleep(0.4)
        with psycopg.connect(postgres_url, autocommit=False) as writer:
            writer.execute("SELECT 1 FROM recorder_leases WHERE holder = 'a' FOR SHARE")
            started = time.monotonic()
            taking = asyncio.create_task(
                storage.group.renew(_report("b"), [], [room], lease=5))
            await asyncio.sleep(0.5)
            assert not taking.done()
            writer.commit()
        taken = await taking
        assert time.monotonic() - started >= 0.5
        assert taken.acquired == {room}
        assert held == {room: 1}
        assert taken.held == {room: 2}
    finally:
        await storage.close()


# -- two processes on ngIRCd --------------------------------------------------------------

def _config(tmp: Path, nick: str, irc_port: int, db_url: str, publish: Path,
            lease: float = 3.0) -> Path:
    path = tmp / f"{nick}.toml"
    path.write_text(
        f'[storage]\nurl = "{db_url}"\n'
        f'[publish]\ndir = "{publish}"\nbase_url = "https://minutes.example.org"\n'
        f"[recorders]\nlease_seconds = {lease}\nrenew_seconds = 0.5\n"
        f'[[irc]]\nname = "test"\nhost = "127.0.0.1"\nport = {irc_port}\nnick = "{nick}"\n'
        f'channels = ["{CHANNEL}"]\nsend_rate = 50.0\nsend_burst = 50\n'
    )
    return path


def channel_order(observer: IrcClient, starting: str = "") -> list[tuple[str, str]]:
    """(nick, text) of the channel's messages as a member saw them: the server's order,
    in which two people's lines sent close together may be relayed either way."""
    return [(ln.split("!", 1)[0][1:], ln.split(" :", 1)[1]) for ln in observer.lines
            if f" PRIVMSG {CHANNEL} :{starting}" in ln]


@dataclass
class Bot:
    nick: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "bot.py"), "run", "-c", str(self.config)],
                cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Group:
    db_url: str
    publish: Path
    bots: dict[str, Bot]
    alice: IrcClient
    bob: IrcClient
    observer: IrcClient
    proxies: dict[str, TcpProxy] = field(default_factory=dict)
    role: str = ""  # the database role minutebot1 logs in as, when it has its own
    said_before_fault: int = 0  # what minutebot1 had said in the channel when it was cut

    def recorder(self) -> str:
        """The nick whose process holds the room's lease now."""
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute(
                "SELECT r.nicks FROM recorder_leases l JOIN recorders r USING (holder) "
                "WHERE l.expires_at > timezone('UTC', clock_timestamp())").fetchone()
        return "" if row is None else str(json.loads(row[0])["test"])

    async def wait_recorder(self, other_than: str = "", seconds: float = 20) -> str:
        async with asyncio.timeout(seconds):
            while True:
                nick = await asyncio.to_thread(self.recorder)
                if nick and nick != other_than:
                    return nick
                await asyncio.sleep(0.05)

    def acquired_at(self) -> datetime:
        """When the room's lease was last taken (the database's clock, this machine's)."""
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute("SELECT acquired_at FROM recorder_leases").fetchone()
        assert row is not None
        acquired: datetime = row[0]
        return acquired.replace(tzinfo=UTC)

    def said(self, fragment: str) -> list[str]:
        """What the group's bots said in the channel that contains `fragment`."""
        return [m for nick in self.bots for m in self.alice.messages_from(nick)
                if fragment in m]

    def stored(self) -> list[tuple[str, str]]:
        with psycopg.connect(self.db_url) as conn:
            return [(nick, text) for nick, text in conn.execute(
                "SELECT nick, text FROM lines WHERE NOT own AND kind = 'message' "
                "ORDER BY meeting_id, seq")]

    def with_msgid(self) -> int:
        """Stored lines that carry the server's IRCv3 msgid."""
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute("SELECT count(*) FROM lines WHERE NOT own AND event_id IS NOT "
                               "NULL AND event_id NOT LIKE 'st:%'").fetchone()
        assert row is not None
        return int(row[0])

    def meetings(self) -> int:
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute("SELECT count(*) FROM meetings").fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
async def group(ngircd: NgIrcd, postgres_url: str, tmp_path: Path,
                request: pytest.FixtureRequest) -> AsyncIterator[Group]:
    """minutebot1 (the first recorder) and minutebot2 (standing by) on one database;
    `proxied` routes minutebot1's IRC or database link through a TcpProxy."""
    proxied: str = getattr(request, "param", "")
    publish = tmp_path / "minutes"
    port = ngircd.port
    insp = None
    if proxied == "inspircd":  # IRCv3 msgid and server-time on every line
        insp = InspIrcd(tmp_path, free_port(), msgid=True, limits=False)
        insp.start()
        port = insp.port
    proxies: dict[str, TcpProxy] = {}
    role = ""
    if proxied == "role":  # minutebot1 logs in as its own role, which can be locked out
        role = f"bot1_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    if proxied == "irc":
        proxies["irc"] = TcpProxy(ngircd.port)
    if proxied == "db":
        proxies["db"] = TcpProxy(5432)
    for proxy in proxies.values():
        await proxy.start()
    bots = {}
    for nick in ("minutebot1", "minutebot2"):
        irc_port = proxies["irc"].port if "irc" in proxies and nick == "minutebot1" \
            else port
        db_url = postgres_url.replace(":5432/", f":{proxies['db'].port}/") \
            if "db" in proxies and nick == "minutebot1" else postgres_url
        if role and nick == "minutebot1":
            db_url = db_url.replace("postgres@", f"{role}@")
        bots[nick] = Bot(nick, _config(tmp_path, nick, irc_port, db_url, publish),
                         tmp_path / f"{nick}.log")
    alice, bob, observer = IrcClient("alice"), IrcClient("bob"), IrcClient("observer")
    for client in (alice, bob, observer):
        await client.connect(port)
        await client.join(CHANNEL)
    found = Group(postgres_url, publish, bots, alice, bob, observer, proxies, role)
    try:
        bots["minutebot1"].start()
        await alice.wait_joined("minutebot1")
        assert await found.wait_recorder() == "minutebot1"
        bots["minutebot2"].start()
        await alice.wait_joined("minutebot2")
        yield found
    finally:
        for bot in bots.values():
            bot.stop()
        for client in (alice, bob, observer):
            await client.close()
        for proxy in proxies.values():
            await proxy.stop()
        if insp is not None:
            insp.stop()
        if role:
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
                conn.execute(f'DROP OWNED BY "{role}"')
                conn.execute(f'DROP ROLE "{role}"')
        for bot in bots.values():
            print(f"--- {bot.nick}\n{bot.log.read_text(errors='replace')[-6000:]}")


async def _talk(group: Group, lines: int, per_second: float, *,
                during: tuple[float, object] | None = None) -> list[tuple[str, str]]:
    """alice and bob take turns at `per_second` lines a second; `during`: (after how many
    seconds, a callable) to do a fault meanwhile. Returns what was said, in order."""
    said: list[tuple[str, str]] = []
    started = time.monotonic()
    fault_done = during is None
    faulting: asyncio.Task[object] | None = None
    for n in range(lines):
        client = group.alice if n % 2 == 0 else group.bob
        text = f"line {n} from {client.nick}"
        client.say(CHANNEL, text)
        said.append((client.nick, text))
        if not fault_done and during is not None and time.monotonic() - started >= during[0]:
            fault_done = True  # done beside the talk, which goes on meanwhile
            faulting = asyncio.create_task(asyncio.to_thread(during[1]))  # type: ignore[arg-type]
        await asyncio.sleep(max(0.0, started + (n + 1) / per_second - time.monotonic()))
    if faulting is not None:
        await faulting
    await asyncio.sleep(0.5)
    # The channel's order is the server's: two people's lines sent close together may be
    # relayed in either order. The observer sees them as everyone in the channel does.
    heard = channel_order(group.observer, "line ")
    assert sorted(heard) == sorted(said)
    return heard


async def _meeting(group: Group, fault: object, *, at: float = 3.0,
                   lines: int = 200) -> tuple[list[tuple[str, str]], str, float]:
    """A meeting with a fault to the recorder in the middle of 10 s of talk at 20 lines/s;
    returns what was said, the new recorder and when it took over (s after the fault)."""
    alice = group.alice
    alice.say(CHANNEL, "#startmeeting HA test")
    await alice.wait_for("Meeting started")
    await asyncio.sleep(0.3)
    faulted = [T0]

    def do_fault() -> None:
        faulted[0] = datetime.now(UTC)
        group.said_before_fault = len(alice.messages_from("minutebot1"))
        fault()  # type: ignore[operator]

    said = await _talk(group, lines, 20.0, during=(at, do_fault))
    new = await group.wait_recorder(other_than="minutebot1", seconds=20)
    took = (await asyncio.to_thread(group.acquired_at) - faulted[0]).total_seconds()
    await alice.wait_for("Took over recording", seconds=20)
    alice.say(CHANNEL, "#endmeeting")
    await alice.wait_for("Minutes:", seconds=20)
    await asyncio.sleep(1.0)  # anything said twice would have arrived by now
    return said, new, took


def _check_one_voice(group: Group, said: list[tuple[str, str]],
                     took_over: int | None = 1) -> None:
    stored = group.stored()
    assert stored == [("alice", "#startmeeting HA test"), *said, ("alice", "#endmeeting")]
    assert group.meetings() == 1
    assert len(group.said("Meeting started")) == 1
    assert len(group.said("Minutes:")) == 1
    if took_over is not None:
        assert len(group.said("Took over recording")) == took_over
    minutes = [p.name for p in group.publish.rglob("ha_test.*.html") if ".log." not in p.name]
    assert len(minutes) == 1, minutes  # one set of minutes, not one per process


@pytest.mark.parametrize("group", ["", "inspircd"], indirect=True,
                         ids=["ngircd-no-msgid", "inspircd-msgid"])
async def test_sigkill_of_the_recorder_mid_meeting_loses_no_line(
        group: Group, request: pytest.FixtureRequest) -> None:
    said, new, took = await _meeting(group, group.bots["minutebot1"].kill)
    assert new == "minutebot2"
    print(f"takeover {took:.2f} s after SIGKILL")
    assert took < 5.0
    _check_one_voice(group, said)
    # on InspIRCd the merge went by msgid; on ngIRCd (none) by sender, text and order
    assert (group.with_msgid() >= len(said)) == ("inspircd" in request.node.name)


async def test_a_clean_stop_hands_the_room_over_at_once(group: Group) -> None:
    said, new, _took = await _meeting(group, group.bots["minutebot1"].stop)
    assert new == "minutebot2"
    _check_one_voice(group, said)


async def _next_meeting_is_minutebot2s(group: Group) -> None:
    """The faulted recorder stands by: a new meeting is answered by minutebot2 alone, and
    minutebot1 has said nothing at all since it was cut off."""
    group.alice.say(CHANNEL, "#startmeeting after the fault")
    await group.alice.wait_for("Meeting started", count=2)
    await asyncio.sleep(1.0)
    for nick in ("minutebot1", "minutebot2"):
        assert len([m for m in group.alice.messages_from(nick) if "Meeting started" in m]) == 1
    assert len(group.alice.messages_from("minutebot1")) == group.said_before_fault


@pytest.mark.parametrize("group", ["db"], indirect=True)
async def test_a_recorder_cut_off_its_database_falls_silent_and_is_replaced(
        group: Group) -> None:
    proxy = group.proxies["db"]
    said, new, _ = await _meeting(group, proxy.stall)
    assert new == "minutebot2"
    proxy.heal()
    await asyncio.sleep(4.0)  # minutebot1 finds its writes fenced and stands by
    _check_one_voice(group, said)
    await _next_meeting_is_minutebot2s(group)


@pytest.mark.parametrize("group", ["role"], indirect=True)
async def test_a_recorder_whose_database_sessions_are_terminated_is_replaced(
        group: Group) -> None:
    """minutebot1's role may no longer log in and pg_terminate_backend ends its sessions:
    it cannot renew its lease, falls silent, and minutebot2 takes over; once it may log
    in again, its writes are refused (fenced) and nothing is written twice."""
    bot = group.bots["minutebot1"].process
    assert bot is not None
    name = f"openminutes[{bot.pid}]"  # how the bot names its sessions
    terminated: list[int] = []

    def cut() -> None:
        with psycopg.connect(group.db_url, autocommit=True) as conn:
            conn.execute(f'ALTER ROLE "{group.role}" NOLOGIN')
            terminated.extend(row[0] for row in conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s", (name,)))

    said, new, _ = await _meeting(group, cut)
    assert new == "minutebot2"
    assert terminated
    with psycopg.connect(group.db_url, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{group.role}" LOGIN')
    await asyncio.sleep(3.0)  # minutebot1 is back on its database, and stands by
    _check_one_voice(group, said)
    await _next_meeting_is_minutebot2s(group)


@pytest.mark.parametrize("group", ["irc"], indirect=True)
async def test_a_recorder_whose_irc_link_dies_is_replaced(group: Group) -> None:
    said, new, _ = await _meeting(group, group.proxies["irc"].cut)
    assert new == "minutebot2"
    # what minutebot1 heard before its link went is stored; what it missed, minutebot2
    # heard: every line is there once
    _check_one_voice(group, said)


async def test_status_lists_the_group(group: Group) -> None:
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "bot.py"), "status", "-c",
                         str(group.bots["minutebot2"].config)],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "processes (2):" in done.stdout
    assert f"{CHANNEL} on test  recorded by" in done.stdout
    assert "(minutebot1)" in done.stdout
    assert "standby" in done.stdout
    assert f"hears {CHANNEL} on test since" in done.stdout


async def test_a_second_run_on_one_sqlite_file_is_refused(ngircd: NgIrcd,
                                                          tmp_path: Path) -> None:
    config = _config(tmp_path, "minutebot1", ngircd.port, f"sqlite:///{tmp_path}/bot.db",
                     tmp_path / "minutes")
    first = Bot("minutebot1", config, tmp_path / "first.log")
    first.start()
    watcher = IrcClient("watcher")
    await watcher.connect(ngircd.port)
    await watcher.join(CHANNEL)
    try:
        await watcher.wait_joined("minutebot1")
        second = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(ROOT / "bot.py"), "run", "-c", str(config)],
            capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "already being recorded into by another `openminutes run` (pid " \
            in second.stderr
        assert "use PostgreSQL" in second.stderr
        assert first.process is not None
        assert first.process.poll() is None
    finally:
        first.stop()
        await watcher.close()


async def test_twenty_random_kills_of_three_recorders_lose_and_double_nothing(
        ngircd: NgIrcd, postgres_url: str, tmp_path: Path) -> None:
    """Three processes; during one meeting, 20 times: SIGKILL one (the recorder or a
    standby), start it again, wait until it is back in the channel. Two live processes
    hear every line at every moment: every line is stored once, in the channel's order."""
    rng = random.Random(22)
    publish = tmp_path / "minutes"
    bots = {nick: Bot(nick, _config(tmp_path, nick, ngircd.port, postgres_url, publish,
                                    lease=2.0), tmp_path / f"{nick}.log")
            for nick in ("minutebot1", "minutebot2", "minutebot3")}
    alice, bob, observer = IrcClient("alice"), IrcClient("bob"), IrcClient("observer")
    for client in (alice, bob, observer):
        await client.connect(ngircd.port)
        await client.join(CHANNEL)
    group = Group(postgres_url, publish, bots, alice, bob, observer)
    try:
        for nick, bot in bots.items():
            bot.start()
            await observer.wait_joined(nick)
        await group.wait_recorder()
        alice.say(CHANNEL, "#startmeeting HA test")
        await alice.wait_for("Meeting started")
        await asyncio.sleep(0.5)
        stop = asyncio.Event()

        async def chatter() -> None:
            n = 0
            while not stop.is_set():
                client = alice if n % 2 == 0 else bob
                client.say(CHANNEL, f"line {n} from {client.nick}")
                n += 1
                await asyncio.sleep(0.1)

        talking = asyncio.create_task(chatter())
        recorders_killed = 0
        for _ in range(20):
            recorder = await asyncio.to_thread(group.recorder)
            nick = recorder if recorder and rng.random() < 0.6 else rng.choice(list(bots))
            recorders_killed += nick == recorder
            joins = observer._joins(nick)
            bots[nick].kill()
            await asyncio.sleep(rng.uniform(0.2, 2.5))
            bots[nick].start()
            await observer.wait_joined(nick, count=joins + 1, seconds=30)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
        stop.set()
        await talking
        await group.wait_recorder(seconds=30)
        await asyncio.sleep(6.0)  # the last takeover stores what it heard
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Minutes:", seconds=30)
        await asyncio.sleep(1.0)
        heard = channel_order(observer, "line ")
        assert recorders_killed >= 5
        _check_one_voice(group, heard, took_over=None)
    finally:
        for bot in bots.values():
            bot.stop()
        for client in (alice, bob, observer):
            await client.close()
        for bot in bots.values():
            print(f"--- {bot.nick}\n{bot.log.read_text(errors='replace')[-3000:]}")


async def test_matrix_a_killed_recorder_is_replaced_and_every_line_is_kept_once(
        synapse: Synapse, postgres_url: str, tmp_path: Path) -> None:
    """Two processes with one Matrix account on one database: the one that holds the
    network's lease syncs it; SIGKILLed mid-meeting, the other takes over from the sync
    token committed with the lines, so every event is stored once, by event id."""
    alice, bob = await people_on(synapse.url, "alice", "bob")
    alias_name = f"ha{uuid.uuid4().hex[:6]}"
    room_id = await alice.create_room(alias_name)
    await bob.join(room_id)
    await bot_account(synapse.url)
    bots = {}
    for name in ("first", "second"):
        config = tmp_path / f"{name}.toml"
        config.write_text(
            f'[storage]\nurl = "{postgres_url}"\n'
            f'[publish]\ndir = "{tmp_path}/minutes"\nbase_url = "https://m.example.org"\n'
            "[recorders]\nlease_seconds = 3.0\nrenew_seconds = 0.5\n"
            f'[[matrix]]\nname = "matrix"\nhomeserver = "{synapse.url}"\nuser_id = "{BOT}"\n'
            f'password = "password-minutebot"\nrooms = ["#{alias_name}:{SERVER_NAME}"]\n'
            "sync_timeout = 5\n")
        bots[name] = Bot(name, config, tmp_path / f"{name}.log")
    sent: list[str] = []

    async def say(person: Person, text: str) -> None:
        await person.say(room_id, text)
        sent.append(text)

    def holder_pid() -> int:
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute(
                "SELECT r.pid FROM recorder_leases l JOIN recorders r USING (holder) "
                "WHERE l.room = '*' AND l.expires_at > timezone('UTC', clock_timestamp())"
            ).fetchone()
        return int(row[0]) if row else 0

    try:
        bots["first"].start()
        await matrix_wait_joined(alice, room_id)
        bots["second"].start()
        await asyncio.sleep(2.0)  # the second stands by (it does not sync)
        first = bots["first"].process
        assert first is not None
        assert await asyncio.to_thread(holder_pid) == first.pid
        await say(alice, "#startmeeting matrix ha")
        await alice.wait_for(BOT, "Meeting started")
        for n in range(20):
            await say(alice if n % 2 else bob, f"before the kill {n}")
        bots["first"].kill()
        for n in range(40):
            await say(alice if n % 2 else bob, f"during the takeover {n}")
            await asyncio.sleep(0.1)
        await alice.wait_for(BOT, "Took over recording", seconds=60)
        second = bots["second"].process
        assert second is not None
        assert await asyncio.to_thread(holder_pid) == second.pid
        await say(alice, "#endmeeting")
        await alice.wait_for(BOT, "Log:", seconds=30)
        await asyncio.sleep(1.0)
        with psycopg.connect(postgres_url) as conn:
            stored = [text for (text,) in conn.execute(
                "SELECT text FROM lines WHERE NOT own AND kind = 'message' "
                "ORDER BY meeting_id, seq")]
        assert stored == sent
        said = alice.said_by(BOT)
        assert len([t for t in said if t.startswith("Meeting started")]) == 1
        assert len([t for t in said if t.startswith("Minutes:")]) == 1
        assert len([t for t in said if t.startswith("Took over recording")]) == 1
    finally:
        print("said by the bot:", alice.said_by(BOT))
        for bot in bots.values():
            bot.stop()
        await alice.close()
        await bob.close()
        for bot in bots.values():
            print(f"--- {bot.nick}\n{bot.log.read_text(errors='replace')[-4000:]}")
