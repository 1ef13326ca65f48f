"""Network faults with a real ngIRCd: server restart, a connection gone silent, and two
meetings at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from tests.helpers import minutes_json_files
from tests.servers import IrcClient, NgIrcd, free_port
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot

FAST = "send_rate = 20.0\nsend_burst = 10\nreconnect_max_delay = 2\n"


def _meeting_json(tmp: Path, channel_slug: str) -> dict[str, object]:
    (path,) = minutes_json_files(tmp / "minutes" / channel_slug)
    data: dict[str, object] = json.loads(path.read_text())
    return data


async def _joined(port: int, *nicks: str, channel: str = CHANNEL) -> list[IrcClient]:
    clients = [IrcClient(n) for n in nicks]
    for client in clients:
        await client.connect(port)
        await client.join(channel)
    return clients


async def test_server_restart_mid_meeting(ngircd: NgIrcd, tmp_path: Path) -> None:
    (alice,) = await _joined(ngircd.port, "alice")
    bot = _start_bot(_config(tmp_path, ngircd.port, FAST))
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting")
        await alice.wait_for("Useful Commands")
        alice.say(CHANNEL, "#info before the restart")
        await asyncio.sleep(0.3)
        await alice.close()
        ngircd.stop()
        await asyncio.sleep(0.5)
        ngircd.start()
        (alice,) = await _joined(ngircd.port, "alice")
        await alice.wait_joined("minutebot", seconds=30)
        alice.say(CHANNEL, "#info after the restart")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ", seconds=20)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
    data = _meeting_json(tmp_path, "meeting")
    assert [i["text"] for i in data["items"]] == [  # type: ignore[attr-defined]
        "before the restart", "after the restart"], output
    assert "reconnecting" in output


class FreezingProxy:
    """Forwards TCP to the server until frozen; frozen connections stay open but silent."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.frozen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.connections = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        generation = self.connections
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(4096):
                    if self.frozen.is_set() and generation == 1:
                        await asyncio.sleep(3600)  # a dead link: nothing in or out
                    dst.write(data)

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer),
                             return_exceptions=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def test_silent_connection_is_detected_and_replaced(ngircd: NgIrcd, tmp_path: Path) -> None:
    proxy = FreezingProxy(ngircd.port)
    await proxy.start()
    (alice,) = await _joined(ngircd.port, "alice")
    bot = _start_bot(_config(tmp_path, proxy.port, FAST + "ping_interval = 2\nping_timeout = 2\n"))
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting")
        await alice.wait_for("Useful Commands")
        proxy.frozen.set()
        alice.say(CHANNEL, "#info said while the link was dead")
        # The bot notices within ping_interval + ping_timeout and connects again; the
        # server still holds its dead connection, so it comes back as minutebot_.
        await alice.wait_joined("minutebot_", seconds=30)
        alice.say(CHANNEL, "#info said after the reconnect")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ", seconds=20)
    finally:
        output = await _stop_bot(bot)
        await alice.close()
        await proxy.close()
    assert proxy.connections >= 2
    assert "no reply for" in output
    assert any(m.startswith("Minutes:") for m in alice.messages_from("minutebot_"))
    data = _meeting_json(tmp_path, "meeting")
    texts = [i["text"] for i in data["items"]]  # type: ignore[attr-defined]
    assert texts[-1] == "said after the reconnect", output


async def test_two_meetings_in_two_channels_at_once(ngircd: NgIrcd, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(_config(tmp_path, ngircd.port, FAST).read_text().replace(
        f'channels = ["{CHANNEL}"]', 'channels = ["#one", "#two"]'))
    (alice,) = await _joined(ngircd.port, "alice", channel="#one")
    (bob,) = await _joined(ngircd.port, "bob", channel="#two")
    bot = _start_bot(config)
    try:
        await alice.wait_joined("minutebot")
        await bob.wait_joined("minutebot")
        alice.say("#one", "#startmeeting first")
        bob.say("#two", "#startmeeting second")
        await alice.wait_for("'first'")
        await bob.wait_for("'second'")
        alice.say("#one", "#agreed one thing")
        bob.say("#two", "#agreed another thing")
        bob.say("#two", "#topic only bob's")
        alice.say("#one", "#endmeeting")
        await alice.wait_for("Log:  ")
        bob.say("#two", "#endmeeting")
        await bob.wait_for("Log:  ")
    finally:
        await _stop_bot(bot)
        await alice.close()
        await bob.close()
    first, second = _meeting_json(tmp_path, "first"), _meeting_json(tmp_path, "second")
    assert (first["channel"], first["chairs"]) == ("#one", ["alice"])
    assert (second["channel"], second["chairs"]) == ("#two", ["bob"])
    assert [i["text"] for i in first["items"]] == ["one thing"]  # type: ignore[attr-defined]
    assert [i["text"] for i in second["items"]] == [  # type: ignore[attr-defined]
        "another thing", "only bob's"]
