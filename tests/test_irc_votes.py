"""A vote held for real over ngIRCd, two meetings of one series, and the decision register
and action listing read back through the command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.servers import IrcClient, NgIrcd
from tests.test_irc_integration import CHANNEL, _cli, _config, _start_bot, _stop_bot


async def test_vote_over_irc_and_the_register(ngircd: NgIrcd, tmp_path: Path) -> None:
    chair, alice, bob = IrcClient("chair"), IrcClient("alice"), IrcClient("bob")
    for client in (chair, alice, bob):
        await client.connect(ngircd.port)
        await client.join(CHANNEL)
    config = _config(tmp_path, ngircd.port, "send_rate = 20.0\nsend_burst = 10\n")
    bot = _start_bot(config)
    try:
        await chair.wait_joined("minutebot")
        chair.say(CHANNEL, "#startmeeting tc")
        await chair.wait_for("The meeting name has been set to 'tc'")
        chair.say(CHANNEL, "#voters alice bob")
        await chair.wait_for("Voters: alice bob")
        chair.say(CHANNEL, "#startvote Adopt the charter? Yes, No, Abstain")
        await chair.wait_for("Begin voting on: Adopt the charter?")
        alice.say(CHANNEL, "#vote yes")
        bob.say(CHANNEL, "#vote no")
        await chair.wait_for(":bob!")
        bob.say(CHANNEL, "#vote yes")
        await chair.wait_for("bob: your vote Yes replaces your earlier No.")
        chair.say(CHANNEL, "#vote no")
        await chair.wait_for("chair: your vote was not counted")
        chair.say(CHANNEL, "#endvote")
        await chair.wait_for("Motion PASSED: Yes 2, No 0, Abstain 0 (simple majority)")
        chair.say(CHANNEL, "#agreed the charter is adopted")
        chair.say(CHANNEL, "#action alice to publish the charter")
        chair.say(CHANNEL, "#endmeeting")
        await chair.wait_for("Log:  ")

        chair.say(CHANNEL, "#startmeeting tc")
        await chair.wait_for("Action items from the previous meeting (")
        chair.say(CHANNEL, "#rejected a second charter")
        chair.say(CHANNEL, "#endmeeting")
        await chair.wait_for("Log:  ", count=2)
    finally:
        output = await _stop_bot(bot)
        for client in (chair, alice, bob):
            await client.close()

    decisions = json.loads(_cli("decisions", "--json", "--meeting", "tc", "-c", str(config)))
    assert [(d["kind"], d["text"]) for d in decisions] == [
        ("rejected", "a second charter"),
        ("agreed", "the charter is adopted"),
        ("vote", "Adopt the charter? Motion PASSED: Yes 2, No 0, Abstain 0 (simple majority)"),
    ], output
    assert all(d["url"].startswith("https://minutes.example.org/tc/") for d in decisions)
    assert "#l-" in decisions[0]["url"]
    rows = list(csv.DictReader(io.StringIO(_cli("decisions", "--csv", "-c", str(config)))))
    assert [r["kind"] for r in rows] == ["rejected", "agreed", "vote"]
    assert _cli("decisions", "--channel", "#elsewhere", "--json", "-c", str(config)).strip() == "[]"

    actions = json.loads(_cli("actions", "--person", "ALICE", "--json", "-c", str(config)))
    assert [(a["text"], a["owners"]) for a in actions] == [
        ("alice to publish the charter", ["alice"])]
    assert json.loads(_cli("actions", "--person", "bob", "--json", "-c", str(config))) == []

    series = tmp_path / "minutes" / "tc"
    page = (series / "decisions.html").read_text()
    assert "a second charter" in page
    assert "Adopt the charter?" in page
    assert len(json.loads((series / "decisions.json").read_text())) == 3
    first, second = sorted((json.loads(p.read_text()) for p in series.rglob("tc.*.json")),
                           key=lambda meeting: meeting["id"])
    assert second["previous_actions"]["actions"] == [
        {"text": "alice to publish the charter", "owners": ["alice"]}]
    assert first["previous_actions"] is None
    (vote,) = first["votes"]
    assert vote["tally"] == {"Yes": 2, "No": 0, "Abstain": 0}
    assert [(b["voter"], b["choice"], b["status"]) for b in vote["ballots"]] == [
        ("alice", "Yes", "counted"), ("bob", "No", "replaced"), ("bob", "Yes", "counted"),
        ("chair", "No", "not eligible")]
