"""The same meeting held at once on IRC (a real ngIRCd) and in a Matrix room (a real
Synapse), by one bot process, gives equivalent JSON minutes: same items, owners, votes,
chairs, attendance and log."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import minutes_json_files
from tests.matrix_server import SERVER_NAME, Person, Synapse
from tests.servers import IrcClient, NgIrcd
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot
from tests.test_matrix_integration import (
    BOT,
    bot_account,
    matrix_config,
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


def _both_config(folder: Path, irc_port: int, matrix_url: str, alias: str) -> Path:
    """One bot on an IRC network and a Matrix homeserver at once."""
    path = _config(folder, irc_port, "send_rate = 50.0\nsend_burst = 50\n")
    matrix = matrix_config(folder / "m", matrix_url, [alias]).read_text()
    path.write_text(path.read_text() + matrix[matrix.index("[[matrix]]"):])
    return path


async def _irc_meeting(ngircd: NgIrcd) -> None:
    alice, bob = IrcClient("alice"), IrcClient("bob")
    try:
        for client in (alice, bob):
            await client.connect(ngircd.port)
            await client.join(CHANNEL)
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
        await alice.close()
        await bob.close()


async def _matrix_meeting(alice: Person, bob: Person, room_id: str) -> None:
    await wait_joined(alice, room_id)
    for speaker, text in SCRIPT:
        person = alice if speaker == "alice" else bob
        if text.startswith("/me "):
            await person.say(room_id, text[4:], msgtype="m.emote")
        else:
            await person.say(room_id, text)
    await alice.wait_for(BOT, "Log:")


def _by_network(folder: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in minutes_json_files(folder / "minutes"):
        data = json.loads(path.read_text())
        found[data["network"]] = data
    return found


async def test_same_meeting_on_irc_and_matrix_at_once_gives_equivalent_minutes(
    ngircd: NgIrcd, synapse: Synapse, tmp_path: Path
) -> None:
    alice, bob = await people_on(synapse.url, "alice", "bob")
    alias = f"equivalence{uuid.uuid4().hex[:6]}"
    room_id = await alice.create_room(alias)
    await bob.join(room_id)
    await bot_account(synapse.url)
    (tmp_path / "m").mkdir()
    bot = _start_bot(_both_config(tmp_path, ngircd.port, synapse.url,
                                  f"#{alias}:{SERVER_NAME}"))
    try:
        # Both meetings at the same time, in one bot process.
        await asyncio.gather(_irc_meeting(ngircd), _matrix_meeting(alice, bob, room_id))
    finally:
        output = await _stop_bot(bot)
        await alice.close()
        await bob.close()
    minutes = _by_network(tmp_path)
    assert sorted(minutes) == ["matrix", "test"], output
    assert _essence(minutes["matrix"]) == _essence(minutes["test"])
    assert len(minutes["test"]["items"]) == 6
    assert minutes["test"]["votes"]
