"""The bot as a user runs it (`python bot.py run -c ...`), on a real ngIRCd, with three
people holding a meeting that uses every command."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import minutes_json_files
from tests.servers import IrcClient, NgIrcd

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "#meeting"


def _config(tmp: Path, port: int, extra: str = "") -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp}/bot.db"\n'
        f'[publish]\ndir = "{tmp}/minutes"\nbase_url = "https://minutes.example.org"\n'
        "[[irc]]\n"
        f'name = "test"\nhost = "127.0.0.1"\nport = {port}\nnick = "minutebot"\n'
        f'channels = ["{CHANNEL}"]\n{extra}'
    )
    return path


def _start_bot(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "run", "-c", str(config)], cwd=config.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _cli(*args: str) -> str:
    """Another subcommand, run as a user would; its standard output."""
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], capture_output=True,
                          text=True, check=True)
    return done.stdout


async def _stop_bot(bot: subprocess.Popen[bytes]) -> str:
    if bot.poll() is None:
        bot.send_signal(signal.SIGTERM)
    try:
        out, _ = await asyncio.to_thread(bot.communicate, timeout=15)
    except subprocess.TimeoutExpired:
        bot.kill()
        out, _ = bot.communicate()
    return out.decode(errors="replace")


@pytest.fixture
async def people(ngircd: NgIrcd) -> AsyncIterator[tuple[IrcClient, IrcClient, IrcClient]]:
    clients = (IrcClient("alice"), IrcClient("bob"), IrcClient("carol"))
    for client in clients:
        await client.connect(ngircd.port)
        await client.join(CHANNEL)
    yield clients
    for client in clients:
        await client.close()


async def test_full_meeting_on_ngircd(
    ngircd: NgIrcd, people: tuple[IrcClient, IrcClient, IrcClient], tmp_path: Path
) -> None:
    alice, bob, carol = people
    bot = _start_bot(_config(tmp_path, ngircd.port, "send_rate = 20.0\nsend_burst = 10\n"))
    try:
        await alice.wait_joined("minutebot")

        async def said(client: IrcClient, text: str, expect: str | None = None,
                       count: int = 1) -> None:
            client.say(CHANNEL, text)
            if expect is not None:
                await alice.wait_for(expect, count=count)
            else:
                await asyncio.sleep(0.05)

        await said(alice, "#startmeeting Release Team", "The meeting name has been set to")
        await said(bob, "\x02hello\x02 \x0304everyone\x03")
        await said(alice, "#chair bob carol", "Current chairs: alice bob carol")
        await said(alice, "#unchair carol", "Current chairs: alice bob")
        await said(carol, "#topic carol is no chair", "#topic is for chairs only")
        await said(bob, "#topic Release 2.0")
        await said(alice, "#meetingtopic Release team weekly")
        await said(carol, "#info: the RC passed CI")
        await said(carol, "#ACTION bob to tag the release")
        await said(bob, "#idea ship a snap")
        await said(bob, "#link https://example.org/rc notes")
        await said(carol, "https://example.org/auto")
        await said(alice, "#agree to release on Friday")
        await said(alice, "#accept the logo")
        await said(alice, "#reject the delay")
        await said(alice, "#agreed oops")
        await said(alice, "#undo", "Removing item from minutes: AGREED: oops")
        await said(bob, "#help need a reviewer")
        await said(bob, "#nick dave")
        await said(bob, "#action dave to review", "dave")
        carol.send(f"PRIVMSG {CHANNEL} :\x01ACTION waves\x01")
        await said(alice, "#lurk")
        await said(alice, "#chair dave")
        await said(alice, "#unlurk")
        await said(bob, "#commands", "Available commands:")
        await said(alice, "#meetingname relteam", "The meeting name has been set to 'relteam'")
        await said(alice, "#save", "Minutes so far:")
        carol.send("NICK carol_")
        await asyncio.sleep(0.1)
        carol.nick = "carol_"
        carol.send(f"PART {CHANNEL} :brb")
        await asyncio.sleep(0.1)
        await carol.join(CHANNEL)
        await said(carol, "#action carol_ to write the announcement")
        await said(bob, "#endmeeting", "Log:            https://minutes.example.org/")
    finally:
        output = await _stop_bot(bot)

    bot_said = alice.messages_from("minutebot")
    assert "Current chairs: alice bob carol dave" not in bot_said, "replied while lurking"
    assert sum("is for chairs only" in m for m in bot_said) == 1
    minutes_url = next(m for m in bot_said if m.startswith("Minutes:  "))
    relative = minutes_url.split("https://minutes.example.org/", 1)[1]
    assert relative.startswith("relteam/20")
    stem = tmp_path / "minutes" / relative.removesuffix(".html")
    files = {ext: Path(f"{stem}.{ext}") for ext in ("html", "txt", "log.html", "log.txt",
                                                     "md", "json")}
    for path in files.values():
        assert path.exists(), f"{path} missing; bot output:\n{output}"

    data = json.loads(files["json"].read_text())
    assert data["name"] == "relteam"
    assert data["title"] == "Release team weekly"
    assert data["founder"] == "alice"
    assert data["chairs"] == ["alice", "bob", "dave"]
    kinds = [(i["kind"], i["text"]) for i in data["items"]]
    assert kinds == [
        ("topic", "Release 2.0"),
        ("info", "the RC passed CI"),
        ("action", "bob to tag the release"),
        ("idea", "ship a snap"),
        ("link", "https://example.org/rc notes"),
        ("link", "https://example.org/auto"),
        ("agreed", "to release on Friday"),
        ("accepted", "the logo"),
        ("rejected", "the delay"),
        ("help", "need a reviewer"),
        ("action", "dave to review"),
        ("action", "carol_ to write the announcement"),
    ]
    assert [a["owners"] for a in data["actions"]] == [["bob"], ["dave"], ["carol_"]]
    log_kinds = {entry["kind"] for entry in data["log"]}
    assert {"message", "action", "nick", "part", "join"} <= log_kinds
    assert any(e["text"] == "hello everyone" for e in data["log"]), "formatting not stripped"
    assert data["ended_at"] is not None
    present = {a["nick"]: a["lines"] for a in data["attendees"]}
    assert present["minutebot"] > 0
    assert present["alice"] > 0
    # carol, renamed carol_, is one person: all her lines, under her latest nick.
    assert "carol" not in present
    (carol_entry,) = [a for a in data["attendees"] if a["nick"] == "carol_"]
    assert carol_entry["earlier_nicks"] == ["carol"]
    assert carol_entry["lines"] == 6

    # `render` rebuilds the same files from the stored lines alone.
    before = {ext: path.read_text() for ext, path in files.items()}
    for path in files.values():
        path.unlink()
    config = tmp_path / "config.toml"
    assert _cli("render", "--all", "-c", str(config)).strip().endswith(".html")
    assert {ext: path.read_text() for ext, path in files.items()} == before
    (meeting,) = json.loads(_cli("meetings", "--json", "-c", str(config)))
    assert (meeting["name"], meeting["channel"]) == ("relteam", CHANNEL)
    assert meeting["ended_at"] is not None

    txt = files["txt"].read_text()
    assert "ACTION: bob to tag the release" in txt
    assert "* **UNASSIGNED**" in txt
    log_txt = files["log.txt"].read_text()
    assert "<bob> #endmeeting" in log_txt
    assert "* carol waves" in log_txt
    assert 'id="l-1"' in files["log.html"].read_text()


async def test_bad_config_stops_with_the_key_named(tmp_path: Path) -> None:
    config = _config(tmp_path, 6667, "colour = true\n")
    bot = _start_bot(config)
    out, _ = await asyncio.to_thread(bot.communicate, timeout=30)
    assert bot.returncode != 0
    assert "unknown key irc[0].colour" in out.decode()


async def test_restart_resumes_the_open_meeting(
    ngircd: NgIrcd, people: tuple[IrcClient, IrcClient, IrcClient], tmp_path: Path
) -> None:
    alice, bob, _ = people
    config = _config(tmp_path, ngircd.port, "send_rate = 20.0\nsend_burst = 10\n")
    bot = _start_bot(config)
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting")
        await alice.wait_for("Useful Commands")
        alice.say(CHANNEL, "#chair bob")
        await alice.wait_for("Current chairs: alice bob")
    finally:
        bot.send_signal(signal.SIGKILL)
        await _stop_bot(bot)
    bot = _start_bot(config)
    try:
        await alice.wait_joined("minutebot", count=2)
        bob.say(CHANNEL, "#agreed still a chair after the restart")
        bob.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ")
    finally:
        output = await _stop_bot(bot)
    (json_file,) = minutes_json_files(tmp_path / "minutes")
    data = json.loads(json_file.read_text())
    assert [i["text"] for i in data["items"]] == ["still a chair after the restart"], output
    texts = [e["text"] for e in data["log"]]
    assert texts.count("#chair bob") == 1
    resumed = [m for m in alice.messages_from("minutebot") if m.startswith("Resumed recording")]
    assert len(resumed) == 1, resumed
    (gap,) = data["gaps"]
    assert gap["text"].startswith("recorder offline from ")
    assert [e["kind"] for e in data["log"]].count("gap") == 1
    minutes = json_file.with_suffix(".html").read_text()
    assert "recorder offline from" in minutes


@pytest.mark.parametrize("server", ["ngircd_default_limits", "inspircd"])
async def test_default_flood_limits_never_disconnect_the_bot(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    port: int = request.getfixturevalue(server).port
    alice = IrcClient("alice")
    await alice.connect(port)
    await alice.join(CHANNEL)
    bot = _start_bot(_config(tmp_path, port))
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting")
        alice.say(CHANNEL, "#commands")  # a long reply, split over several lines
        for n in range(12):
            await asyncio.sleep(1.0)  # a person typing; the server's limits apply to us too
            # Each reply differs: an identical one within 30 s is not sent again.
            alice.say(CHANNEL, f"#chair p{n}")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ", seconds=60)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
    quits = [ln for ln in alice.lines if ln.startswith(":minutebot!") and " QUIT " in ln]
    assert quits == [] or "openminutes stopping" in quits[0], (quits, output)
    log_at = next(i for i, ln in enumerate(alice.lines) if "Log:  " in ln)
    assert not any(" QUIT " in ln and ln.startswith(":minutebot!")
                   for ln in alice.lines[:log_at]), "the bot was disconnected mid-meeting"
    assert len(alice.messages_from("minutebot")) >= 12 + 3
