"""Lines nobody of the group heard, fetched from a server that keeps history (IRCv3
draft/chathistory), against the scripted server in tests/chathistory_server.py: after a
restart (the only recorder SIGKILLed for 10 s) and after a reconnect."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from tests.chathistory_server import ChatHistoryServer
from tests.servers import IrcClient, free_port
from tests.test_group import CHANNEL, Bot, _config, channel_order


@pytest.fixture
async def server() -> AsyncIterator[ChatHistoryServer]:
    found = ChatHistoryServer(free_port())
    await found.start()
    yield found
    await found.stop()


async def _people(port: int) -> tuple[IrcClient, IrcClient, IrcClient]:
    clients = (IrcClient("alice"), IrcClient("bob"), IrcClient("observer"))
    for client in clients:
        await client.connect(port)
        await client.join(CHANNEL)
    return clients


async def _talk(alice: IrcClient, bob: IrcClient, seconds: float,
                per_second: float = 20.0) -> None:
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        client = alice if n % 2 == 0 else bob
        client.say(CHANNEL, f"line {n} from {client.nick}")
        n += 1
        await asyncio.sleep(max(0.0, started + n / per_second - time.monotonic()))


def _said(observer: IrcClient) -> list[tuple[str, str, str]]:
    """What alice and bob said, in the channel's order, as stored lines would have it."""
    return [("message", nick, text) for nick, text in channel_order(observer)
            if nick in ("alice", "bob")]


_PEOPLE = ("SELECT kind, nick, text FROM lines WHERE NOT own AND kind IN ('message', 'gap') "
           "ORDER BY meeting_id, seq")


def _stored(url: str) -> list[tuple[str, str, str]]:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [(kind, nick, text) for kind, nick, text in db.execute(_PEOPLE)]
    with psycopg.connect(url) as conn:
        return [(kind, nick, text) for kind, nick, text in conn.execute(_PEOPLE)]


async def test_a_restarted_recorder_fetches_what_was_said_while_it_was_dead(
        server: ChatHistoryServer, postgres_url: str, tmp_path: Path) -> None:
    alice, bob, observer = await _people(server.port)
    bot = Bot("minutebot1", _config(tmp_path, "minutebot1", server.port, postgres_url,
                                    tmp_path / "minutes"), tmp_path / "bot.log")
    try:
        bot.start()
        await alice.wait_joined("minutebot1")
        await asyncio.sleep(1.0)  # the room's lease is taken
        alice.say(CHANNEL, "#startmeeting history test")
        await alice.wait_for("Meeting started")
        await _talk(alice, bob, 1.0)
        await asyncio.sleep(0.5)
        bot.kill()
        await _talk(alice, bob, 10.0)  # 200 lines nobody records: two pages of history
        bot.start()
        await alice.wait_for("recorded from the server's history", seconds=30)
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Minutes:", seconds=20)
        await asyncio.sleep(0.5)
        said = _said(observer)
        assert len(said) > 200
        assert _stored(postgres_url) == [("message", "alice", "#startmeeting history test"),
                                         *said[1:]]  # every line once, in place, no gap
        assert any(r.startswith("AFTER #ha msgid=") for r in server.requests)  # paged
        assert len([m for m in alice.messages_from("minutebot1")
                    if m.startswith("Minutes: ")]) == 1
    finally:
        bot.stop()
        for client in (alice, bob, observer):
            await client.close()
        print(bot.log.read_text(errors="replace")[-5000:])


async def test_a_reconnect_fetches_what_was_said_meanwhile(
        server: ChatHistoryServer, tmp_path: Path) -> None:
    """SQLite, one recorder: its connection is closed by the server while people talk."""
    alice, bob, observer = await _people(server.port)
    db = f"sqlite:///{tmp_path}/bot.db"
    bot = Bot("minutebot1", _config(tmp_path, "minutebot1", server.port, db,
                                    tmp_path / "minutes"), tmp_path / "bot.log")
    try:
        bot.start()
        await alice.wait_joined("minutebot1")
        alice.say(CHANNEL, "#startmeeting reconnect test")
        await alice.wait_for("Meeting started")
        await _talk(alice, bob, 1.0)
        talking = asyncio.create_task(_talk(alice, bob, 4.0))
        await asyncio.sleep(0.5)
        (bot_client,) = [c for c in server.clients if c.nick == "minutebot1"]
        bot_client.writer.transport.abort()  # a real socket closed under the bot
        await talking
        await alice.wait_for("Reconnected; lines said meanwhile are recorded", seconds=30)
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Minutes:", seconds=20)
        said = _said(observer)
        assert _stored(db) == [("message", "alice", "#startmeeting reconnect test"), *said[1:]]
    finally:
        bot.stop()
        for client in (alice, bob, observer):
            await client.close()
        print(bot.log.read_text(errors="replace")[-5000:])


async def test_a_restart_on_sqlite_fetches_what_was_said_while_the_bot_was_down(
        server: ChatHistoryServer, tmp_path: Path) -> None:
    alice, bob, observer = await _people(server.port)
    db = tmp_path / "bot.db"
    bot = Bot("minutebot1", _config(tmp_path, "minutebot1", server.port, f"sqlite:///{db}",
                                    tmp_path / "minutes"), tmp_path / "bot.log")
    try:
        bot.start()
        await alice.wait_joined("minutebot1")
        alice.say(CHANNEL, "#startmeeting sqlite restart")
        await alice.wait_for("Meeting started")
        await _talk(alice, bob, 1.0)
        await asyncio.sleep(0.5)
        bot.kill()
        await _talk(alice, bob, 3.0)
        bot.start()
        await alice.wait_for("lines said while the bot was away are recorded from the "
                             "server's history", seconds=30)
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Minutes:", seconds=20)
        said = _said(observer)
        assert _stored(f"sqlite:///{db}") == [("message", "alice", "#startmeeting sqlite restart"),
                                              *said[1:]]
    finally:
        bot.stop()
        for client in (alice, bob, observer):
            await client.close()
        print(bot.log.read_text(errors="replace")[-5000:])
