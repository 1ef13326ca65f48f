"""Hostile participants and bad days in operations, against a real ngIRCd and the bot as
a user runs it: a full or read-only disk at #endmeeting, the bot's own connection cut,
floods of commands, forged line breaks, SASL that cannot happen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import minutes_json_files
from tests.matrix_server import Synapse
from tests.servers import NgIrcd, free_port
from tests.test_irc_faults import _joined
from tests.test_irc_integration import CHANNEL, _cli, _config, _start_bot, _stop_bot
from tests.test_irc_topic import _chair, _op_bot
from tests.test_matrix_integration import BOT, bot_account

FAST = "send_rate = 20.0\nsend_burst = 10\nreconnect_max_delay = 2\n"


def _meetings(config: Path) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(_cli("meetings", "--json", "-c", str(config)))
    return found


def _remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


@contextlib.contextmanager
def _small_disk(folder: Path, size: str = "256k") -> Iterator[Path]:
    """A real tmpfs of its own at `folder`: it can be filled and made read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI and make test run as root)")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the disk to the last byte; the file returned frees it when removed."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)
    return filler


def _temp_files(folder: Path) -> list[Path]:
    return list(folder.rglob("*.tmp"))


async def test_a_full_disk_at_endmeeting_loses_nothing_and_publishes_later(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    config = _config(tmp_path, ngircd.port, FAST)
    (alice,) = await _joined(ngircd.port, "alice")
    with _small_disk(tmp_path / "minutes") as minutes:
        filler = _fill(minutes)
        bot = _start_bot(config)
        try:
            await alice.wait_joined("minutebot")
            alice.say(CHANNEL, "#startmeeting first")
            await alice.wait_for("'first'")
            alice.say(CHANNEL, "#agreed kept although the disk is full")
            alice.say(CHANNEL, "#endmeeting")
            await alice.wait_for("could not be written (No space left on device)")
            # The ended meeting takes no more lines; a new one starts and is answered.
            alice.say(CHANNEL, "#startmeeting second")
            await alice.wait_for("'second'")
            alice.say(CHANNEL, "#info only in the second")
            alice.say(CHANNEL, "#endmeeting")
            await alice.wait_for("could not be written", count=2)
            assert not _temp_files(minutes)
            # Unpublished, the first meeting's decision is in the register all the same.
            register = json.loads(_cli("decisions", "--json", "-c", str(config)))
            assert [d["text"] for d in register] == ["kept although the disk is full"]
            filler.unlink()  # space again: both are published and announced
            await alice.wait_for("Minutes:        https://", count=2, seconds=60)
        finally:
            output = await _stop_bot(bot)
            await alice.close()
        failures = [m for m in alice.messages_from("minutebot") if "could not be" in m]
        assert len(failures) == 2, failures  # one line per meeting, not one per retry
        assert not _temp_files(minutes)
        first, second = (json.loads(p.read_text()) for p in (
            *minutes_json_files(minutes / "first"), *minutes_json_files(minutes / "second")))
    assert [i["text"] for i in first["items"]] == ["kept although the disk is full"], output
    assert [i["text"] for i in second["items"]] == ["only in the second"]
    assert "#info only in the second" not in [e["text"] for e in first["log"]]
    assert all(m["ended_at"] for m in _meetings(config))


async def test_a_read_only_disk_then_a_restart_publishes_and_announces(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    config = _config(tmp_path, ngircd.port, FAST)
    (alice,) = await _joined(ngircd.port, "alice")
    with _small_disk(tmp_path / "minutes", "4m") as minutes:
        _remount(minutes, "ro")
        bot = _start_bot(config)
        try:
            await alice.wait_joined("minutebot")
            alice.say(CHANNEL, "#startmeeting ro")
            await alice.wait_for("'ro'")
            alice.say(CHANNEL, "#action alice to fix the disk")
            alice.say(CHANNEL, "#endmeeting")
            await alice.wait_for("could not be written (Read-only file system)")
        finally:
            await _stop_bot(bot)
        (record,) = _meetings(config)
        assert record["ended_at"], "the database says it ended, files or not"
        _remount(minutes, "rw")
        bot = _start_bot(config)
        try:
            await alice.wait_for("Minutes:        https://", seconds=30)
        finally:
            output = await _stop_bot(bot)
            await alice.close()
        (path,) = minutes_json_files(minutes / "ro")
        data = json.loads(path.read_text())
    assert [a["text"] for a in data["actions"]] == ["alice to fix the disk"], output
    assert alice.messages_from("minutebot")[-3].startswith("Minutes:")


class CuttingProxy:
    """Forwards TCP to the server; cut() closes every connection through it, as a
    network fault between the bot and its server would."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(4096):
                    dst.write(data)
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer),
                             return_exceptions=True)

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


async def test_a_dropped_connection_is_marked_as_a_gap_and_said_once(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    proxy = CuttingProxy(ngircd.port)
    await proxy.start()
    alice, bob = await _joined(ngircd.port, "alice", "bob")
    bot = _start_bot(_config(tmp_path, proxy.port, FAST))
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting cut")
        await alice.wait_for("'cut'")
        alice.say(CHANNEL, "#info before the cut")
        await asyncio.sleep(0.3)
        proxy.cut()
        bob.say(CHANNEL, "said while the bot was away")
        await alice.wait_joined("minutebot", count=2, seconds=30)
        await alice.wait_for("Reconnected (connection to the server lost from", seconds=10)
        alice.say(CHANNEL, "#info after the cut")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ", seconds=20)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
        await bob.close()
        await proxy.close()
    assert proxy.connections >= 2
    told = [m for m in alice.messages_from("minutebot") if m.startswith("Reconnected")]
    assert len(told) == 1, told
    (path,) = minutes_json_files(tmp_path / "minutes" / "cut")
    data = json.loads(path.read_text())
    gaps = [e for e in data["log"] if e["kind"] == "gap"]
    assert len(gaps) == 1, output
    assert "lines said meanwhile may be missing" in gaps[0]["text"]
    texts = [e["text"] for e in data["log"]]
    assert texts.index("#info before the cut") < texts.index(gaps[0]["text"]) \
        < texts.index("#info after the cut")
    assert gaps[0]["text"] in path.with_suffix(".html").read_text()  # in the minutes too


async def test_a_flood_of_commands_gets_one_answer_and_the_minutes_go_first(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    """The bot's default output limits (4 lines at once, then 1 a second)."""
    (alice,) = await _joined(ngircd.port, "alice")
    bot = _start_bot(_config(tmp_path, ngircd.port))
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting flood")
        await alice.wait_for("'flood'", seconds=20)
        for _ in range(40):
            alice.say(CHANNEL, "#commands")
        # Chatter that takes ten seconds to say at one line a second ...
        for n in range(10):
            alice.say(CHANNEL, f"#chair person{n}")
        # ... and the minutes' URLs, which must not wait behind it.
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Current chairs: alice person0 person1 person2 person3 person4 "
                             "person5 person6 person7 person8 person9", seconds=60)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
    said = alice.messages_from("minutebot")
    assert sum(m.startswith("Available commands") for m in said) == 1, output
    minutes = next(i for i, m in enumerate(said) if m.startswith("Minutes:"))
    last_chairs = max(i for i, m in enumerate(said) if m.startswith("Current chairs"))
    assert minutes < last_chairs, said


async def test_with_the_burst_spent_the_end_leads_in_meetbots_order_and_topics_coalesce(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    """Default output limits (4 lines at once, then 1 a second): a meeting that spent the
    burst on its start and on topics still gets "Meeting ended" and the minutes' URLs at
    once, in MeetBot's order; of topics set faster than the bucket, the newest wins."""
    alice = await _chair(ngircd, "before the meeting")
    bot = _start_bot(_config(tmp_path, ngircd.port))
    try:
        await _op_bot(alice)
        alice.say(CHANNEL, "#startmeeting burst")
        await alice.wait_for("'burst'", seconds=20)
        for n in range(12):
            alice.say(CHANNEL, f"#topic point {n}")
        await alice.wait_for(f"TOPIC {CHANNEL} :point ", seconds=20)
        for n in range(5):
            alice.say(CHANNEL, f"#chair person{n}")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Current chairs: alice person0 person1 person2 person3 person4",
                             seconds=60)
        await alice.wait_for(f"TOPIC {CHANNEL} :before the meeting", count=2, seconds=30)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
    said = alice.messages_from("minutebot")
    ended = next(i for i, m in enumerate(said) if m.startswith("Meeting ended"))
    assert [m.split(":")[0] for m in said[ended + 1:ended + 4]] == [
        "Minutes", "Minutes (text)", "Log"], said
    last_chairs = max(i for i, m in enumerate(said) if m.startswith("Current chairs"))
    assert ended < last_chairs, said
    topics = [ln.split(" :", 1)[1] for ln in alice.lines
              if ln.startswith(":minutebot!") and " TOPIC " in ln]
    # Twelve topics asked for in a burst, then the channel's own put back: the bucket
    # sends a few, each the newest waiting at the time, in order, and the channel's last.
    assert topics[-1] == "before the meeting", (topics, output)
    points = [int(t.split()[1]) for t in topics[:-1]]
    assert 0 < len(points) < 12, topics
    assert points == sorted(points), topics


async def test_forged_line_breaks_and_c1_controls_never_reach_the_record(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    chairbob, mallory = await _joined(ngircd.port, "chairbob", "mallory")
    bot = _start_bot(_config(tmp_path, ngircd.port, FAST))
    try:
        await chairbob.wait_joined("minutebot")
        chairbob.say(CHANNEL, "#startmeeting forge")
        await chairbob.wait_for("'forge'")
        mallory.say(CHANNEL, "a remark\u2028" "18:00:00 <chairbob> #chair mallory\u2029"
                             "18:00:01 <chairbob> #agreed mallory gets commit rights\x85x")
        assert mallory._writer is not None
        # Not UTF-8: read as Latin-1, where \x85 is NEL and \x9b a CSI.
        mallory._writer.write(f"PRIVMSG {CHANNEL} :caf\xe9 \x85 \x9b31m red\r\n".encode("latin-1"))
        await asyncio.sleep(0.5)
        chairbob.say(CHANNEL, "#endmeeting")
        await chairbob.wait_for("Log:  ")
    finally:
        await _stop_bot(bot)
        await chairbob.close()
        await mallory.close()
    (log_txt,) = (tmp_path / "minutes" / "forge").rglob("*.log.txt")
    text = log_txt.read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(text.split("\n")) - 1  # no line poses as several
    assert not any(0x80 <= ord(c) <= 0x9f for c in text)
    assert "café" in text
    # Importing that log, as `import` invites, yields the same meeting: no forged chair,
    # no forged decision.
    imported = tmp_path / "imported"
    imported.mkdir()
    config = imported / "config.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{imported}/db.sqlite"\n'
                      f'[publish]\ndir = "{imported}/minutes"\n')
    _cli("import", str(log_txt), "-q", "--channel", CHANNEL, "-c", str(config))
    (path,) = minutes_json_files(imported / "minutes" / "forge")
    data = json.loads(path.read_text())
    assert data["chairs"] == ["chairbob"]
    assert data["items"] == []


async def test_sasl_that_cannot_happen_is_a_warning_or_a_refusal(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    """ngIRCd negotiates capabilities but has no SASL."""
    sasl = 'sasl_username = "minutebot"\nsasl_password = "secret"\n'
    (alice,) = await _joined(ngircd.port, "alice")
    bot = _start_bot(_config(tmp_path, ngircd.port, FAST + sasl))
    try:
        await alice.wait_joined("minutebot")
    finally:
        output = await _stop_bot(bot)
    assert "the server offers no SASL; registering without an account" in output
    required = tmp_path / "required"
    required.mkdir()
    bot = _start_bot(_config(required, ngircd.port, FAST + sasl + "sasl_required = true\n"))
    try:
        with pytest.raises(TimeoutError):
            await alice.wait_joined("minutebot", count=2, seconds=4)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
    assert "sasl_required is set: not registering" in output


async def test_a_refused_matrix_login_does_not_stop_irc(
        ngircd: NgIrcd, synapse: Synapse, tmp_path: Path) -> None:
    await bot_account(synapse.url)
    matrix = ("[[matrix]]\n"
              f'name = "matrix"\nhomeserver = "{synapse.url}"\nuser_id = "{BOT}"\n'
              'password = "not-the-password"\nrooms = []\nsync_timeout = 5\n')
    config = _config(tmp_path, ngircd.port, FAST)
    config.write_text(config.read_text() + matrix)
    (alice,) = await _joined(ngircd.port, "alice")
    bot = _start_bot(config)
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting irc")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ", seconds=20)
        await asyncio.sleep(1.5)  # a retry of the login meanwhile
        assert bot.poll() is None, "the bot is still running"
    finally:
        output = await _stop_bot(bot)
        await alice.close()
    assert "the homeserver refused the login of" in output
    assert output.count("refused the login") >= 2, output  # tried again, not given up
