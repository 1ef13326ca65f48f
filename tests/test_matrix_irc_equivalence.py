"""The same meeting held on IRC (a real ngIRCd) and in a Matrix room (a real Synapse)
gives equivalent JSON minutes: same items, owners, votes, chairs and attendance."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.matrix_server import SERVER_NAME, Person, Synapse
from tests.servers import IrcClient, NgIrcd
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot
from tests.test_matrix_integration import (
    BOT,
    bot_account,
    matrix_config,
    minutes_json,
    people_on,
    wait_joined,
)

pytestmark = pytest.mark.integration

SCRIPT = [
    ("alice", "#startmeeting Equivalence"),
    ("alice", "#topic Plans"),
    ("bob", "hello everyone"),
    ("alice", "#info the info"),
    ("alice", "#action bob to write it"),
    ("alice", "#chair bob"),
    ("bob", "#agreed do it"),
    ("alice", "#startvote Ship it? yes, no"),
    ("alice", "#vote yes"),
    ("bob", "#vote yes"),
    ("bob", "#endvote"),
    ("alice", "#link https://example.org/plan"),
    ("bob", "/me is done"),
    ("alice", "#endmeeting"),
]


def _essence(data: dict[str, Any]) -> dict[str, Any]:
    """What must agree between networks (not times, ids, accounts or channel names)."""
    return {
        "title": data["title"], "name": data["name"], "founder": data["founder"],
        "chairs": data["chairs"],
        "items": [(i["kind"], i["text"], i["nick"]) for i in data["items"]],
        "actions": [(a["text"], a["owners"]) for a in data["actions"]],
        "votes": [(v["question"], v["options"], v["tally"], v["result"],
                   [(b["voter"], b["choice"]) for b in v["ballots"]]) for v in data["votes"]],
        "attendees": data["attendees"],
        # The bot's words carry the time ("Meeting started Sat Nov 21 14:21:05 2026").
        "log": [(e["nick"], e["kind"], re.sub(r"\d\d:\d\d:\d\d", "T", e["text"]))
                for e in data["log"]],
    }


async def _irc_meeting(ngircd: NgIrcd, folder: Path) -> dict[str, Any]:
    alice, bob = IrcClient("alice"), IrcClient("bob")
    for client in (alice, bob):
        await client.connect(ngircd.port)
        await client.join(CHANNEL)
    bot = _start_bot(_config(folder, ngircd.port, "send_rate = 50.0\nsend_burst = 50\n"))
    try:
        await alice.wait_joined("minutebot")
        for speaker, text in SCRIPT:
            client = alice if speaker == "alice" else bob
            if text.startswith("/me "):
                client.say(CHANNEL, f"\x01ACTION {text[4:]}\x01")
            else:
                client.say(CHANNEL, text)
            await asyncio.sleep(0.2)  # people take turns; the server keeps their order
        await alice.wait_for("Log:  ")
    finally:
        await _stop_bot(bot)
        await alice.close()
        await bob.close()
    return minutes_json(folder)


async def _matrix_meeting(synapse: Synapse, folder: Path) -> dict[str, Any]:
    alice, bob = await people_on(synapse.url, "alice", "bob")
    alias = f"equivalence{uuid.uuid4().hex[:6]}"
    room_id = await alice.create_room(alias)
    await bob.join(room_id)
    await bot_account(synapse.url)
    bot = _start_bot(matrix_config(folder, synapse.url, [f"#{alias}:{SERVER_NAME}"]))
    try:
        await wait_joined(alice, room_id)
        for speaker, text in SCRIPT:
            person: Person = alice if speaker == "alice" else bob
            if text.startswith("/me "):
                await person.say(room_id, text[4:], msgtype="m.emote")
            else:
                await person.say(room_id, text)
        await alice.wait_for(BOT, "Log:")
    finally:
        await _stop_bot(bot)
        await alice.close()
        await bob.close()
    return minutes_json(folder)


async def test_same_meeting_on_irc_and_matrix_gives_equivalent_minutes(
    ngircd: NgIrcd, synapse: Synapse, tmp_path: Path
) -> None:
    (tmp_path / "irc").mkdir()
    (tmp_path / "matrix").mkdir()
    on_irc = await _irc_meeting(ngircd, tmp_path / "irc")
    on_matrix = await _matrix_meeting(synapse, tmp_path / "matrix")
    assert _essence(on_matrix) == _essence(on_irc)
    assert on_irc["network"] == "test"
    assert on_matrix["network"] == "matrix"
    assert len(on_irc["items"]) == 6
    assert on_irc["votes"]
