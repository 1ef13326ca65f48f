"""Chairs are services accounts, on a real InspIRCd whose accounts a services server sets.

The server offers WHOX but neither account-tag nor extended-join, so the bot learns who is
logged in from WHOX: for the channel when it joins, for each newcomer after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import minutes_json_files
from tests.servers import FakeServices, InspIrcd, IrcClient, free_port
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot

# The bot's WHOX query for a newcomer and its reply cross the loopback in milliseconds;
# a person's first words come later than that.
SETTLE = 1.0


@pytest.fixture
def accounts_server(tmp_path: Path) -> Iterator[InspIrcd]:
    server = InspIrcd(tmp_path, free_port(), services_port=free_port())
    server.start()
    yield server
    server.stop()


async def _arrive(server: InspIrcd, services: FakeServices, nick: str,
                  account: str | None) -> IrcClient:
    client = IrcClient(nick)
    await client.connect(server.port)
    if account:
        await services.wait_for_user(nick)
        services.login(nick, account)
    await client.join(CHANNEL)
    return client


async def test_chair_is_the_account_not_the_nick(accounts_server: InspIrcd,
                                                 tmp_path: Path) -> None:
    assert accounts_server.services_port is not None
    services = FakeServices()
    await services.link(accounts_server.services_port)
    # alice is in the channel, logged in, before the bot arrives: WHOX on join tells it.
    alice = await _arrive(accounts_server, services, "alice", "alice-acct")
    bot = _start_bot(_config(tmp_path, accounts_server.port))
    clients = [alice]
    try:
        await alice.wait_joined("minutebot")
        await asyncio.sleep(SETTLE)
        alice.say(CHANNEL, "#startmeeting accounts")
        await alice.wait_for("Meeting started")
        alice.say(CHANNEL, "#topic first")
        alice.send("QUIT :link lost")
        await asyncio.sleep(SETTLE)

        # Someone else takes the nick, without the account.
        mallory = await _arrive(accounts_server, services, "alice", None)
        clients.append(mallory)
        await asyncio.sleep(SETTLE)
        mallory.say(CHANNEL, "#topic hijacked")
        await mallory.wait_for("#topic is for chairs only")
        mallory.say(CHANNEL, "#agreed nothing")  # refused quietly: told once already

        # The real alice is back under another nick, logged in: still the chair, and
        # after a nick change too.
        back = await _arrive(accounts_server, services, "alice_away", "alice-acct")
        clients.append(back)
        await asyncio.sleep(SETTLE)
        back.say(CHANNEL, "#topic second")
        back.send("NICK alice2")
        await back.wait_for(":alice_away!")  # the server confirms the nick change
        back.say(CHANNEL, "#agreed accounts decide")
        back.say(CHANNEL, "#endmeeting")
        await back.wait_for("Meeting ended")
    finally:
        output = await _stop_bot(bot)
        for client in clients:
            await client.close()
        await services.close()
    (path,) = minutes_json_files(tmp_path / "minutes")
    data = json.loads(path.read_text())
    items = [(i["kind"], i["text"]) for i in data["items"]]
    assert items == [("topic", "first"), ("topic", "second"),
                     ("agreed", "accounts decide")], output
    said = {(line["nick"], line["text"]) for line in data["log"]}
    assert ("alice", "#topic hijacked") in said  # recorded, but made nothing
