"""Through a ZNC bouncer: lines said while the bot was down are played back and recorded
with their original server time; lines played back twice are stored once."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import minutes_json_files
from tests.servers import IrcClient, NgIrcd, Znc, free_port
from tests.test_irc_integration import CHANNEL, _start_bot, _stop_bot


@pytest.fixture
def znc(ngircd: NgIrcd) -> Iterator[Znc]:
    bouncer = Znc(free_port(), ngircd.port, CHANNEL)
    bouncer.start()
    yield bouncer
    bouncer.stop()


def _config(tmp: Path, port: int) -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp}/bot.db"\n[publish]\ndir = "{tmp}/minutes"\n'
        f'[[irc]]\nname = "test"\nhost = "127.0.0.1"\nport = {port}\nnick = "zbot"\n'
        f'password = "bot/test:secret"\nchannels = ["{CHANNEL}"]\n'
        "send_rate = 20.0\nsend_burst = 10\n"
    )
    return path


async def test_bouncer_playback_is_recorded_once_with_original_times(
    ngircd: NgIrcd, znc: Znc, tmp_path: Path
) -> None:
    alice = IrcClient("alice")
    await alice.connect(ngircd.port)
    await alice.join(CHANNEL)
    await alice.wait_joined("zbot")  # ZNC itself sits in the channel
    config = _config(tmp_path, znc.port)
    bot = _start_bot(config)
    try:
        alice.say(CHANNEL, "#startmeeting")
        await alice.wait_for("Useful Commands", seconds=20)
        alice.say(CHANNEL, "#info before the crash")
        await asyncio.sleep(1.0)
    finally:
        bot.send_signal(signal.SIGKILL)
        await _stop_bot(bot)
    alice.say(CHANNEL, "#info while the bot was down")
    said_down = datetime.now().astimezone()
    await asyncio.sleep(1.5)
    bot = _start_bot(config)
    try:
        await alice.wait_for("Resumed recording", seconds=20)
        await asyncio.sleep(1.0)  # the playback is processed
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ", seconds=20)
    finally:
        output = await _stop_bot(bot)
        await alice.close()

    (path,) = minutes_json_files(tmp_path / "minutes")
    data = json.loads(path.read_text())
    assert [i["text"] for i in data["items"]] == [
        "before the crash", "while the bot was down"], output
    texts = [e["text"] for e in data["log"] if e["nick"] == "alice"]
    assert texts.count("#startmeeting") == 1
    assert texts.count("#info before the crash") == 1
    down = next(e for e in data["log"] if e["text"] == "#info while the bot was down")
    when = datetime.fromisoformat(down["time"].replace("Z", "+00:00"))
    assert abs((when - said_down).total_seconds()) < 1.0  # the original time, not playback's
