"""A plugin added through `plugins.extra` makes its own kind of item, which every output,
search (CLI and API), the decision register and the OpenAPI description know, with no
change anywhere else (tests/plugins/deadline.py is all there is of it)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import ItemKind
from openminutes.meetings.registry import Plugin, build_registry
from openminutes.meetings.state import Meeting
from openminutes.meetings.transcript import parse_lines
from openminutes.plugins import BUNDLED, default_registry
from tests.helpers import minutes_json_files
from tests.plugins.deadline import DEADLINE
from tests.servers import IrcClient, NgIrcd, free_port, wait_for_port
from tests.test_hardening_web import _serve
from tests.test_irc_integration import CHANNEL, ROOT, _cli, _config, _start_bot, _stop_bot

PLUGIN = "tests.plugins.deadline"


def test_the_registry_is_built_from_the_plugins_given() -> None:
    assert default_registry().lookup("decision-deadline") is None
    registry = default_registry([PLUGIN])
    cmd = registry.lookup("decision-deadline")
    assert cmd is not None
    assert cmd.kind is not None
    assert cmd.kind.decision
    assert "decision-deadline" in registry.kind_names()
    assert "decision-deadline" in registry.decision_kinds()
    # Two plugins cannot both own a command, nor one kind name mean two things.
    clash = Plugin("clash")
    clash.item_command(ItemKind("agreed"), "TEXT", "a second #agreed")
    with pytest.raises(ValueError, match="declared twice"):
        build_registry([*BUNDLED, clash])
    with pytest.raises(ValueError, match="a command is a word"):
        Plugin("bad").item_command(ItemKind("ok"), "TEXT", "x", name="has space")
    with pytest.raises(ValueError, match="item kind"):
        ItemKind("Not A Kind")


def test_a_hyphenated_command_through_the_engine() -> None:
    engine = Engine(default_registry([PLUGIN]))
    meeting = Meeting("test", "#test")
    replies = [engine.apply(meeting, line).replies for line in parse_lines([
        "18:00:00 <chair> #startmeeting",
        "18:00:05 <chair> #decision-deadline 2026-12-15 ship the release",
        "18:00:06 <chair> #decision-deadline soon ship it",
        "18:00:07 <bob> #decision-deadline 2026-12-16 bob's own",
        "18:00:08 <chair> #endmeeting"], date(2026, 12, 1), strict=True)]
    (item,) = meeting.items
    assert (item.kind, item.text, item.command) == (
        DEADLINE, "ship the release (due 2026-12-15)", "decision-deadline")
    assert replies[2] == ["Usage: #decision-deadline DATE TEXT"]
    assert "is for chairs only" in replies[3][0]


async def test_a_plugins_item_is_in_every_output_search_and_the_api(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    port = free_port()
    config = _config(tmp_path, ngircd.port, "send_rate = 20.0\nsend_burst = 10\n")
    config.write_text(f'[plugins]\nextra = ["{PLUGIN}"]\n'
                      f'[web]\nlisten = "127.0.0.1:{port}"\n' + config.read_text())
    alice = IrcClient("alice")
    await alice.connect(ngircd.port)
    await alice.join(CHANNEL)
    bot = _start_bot(config)
    try:
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting release")
        await alice.wait_for("#decision-deadline")  # among the useful commands
        alice.say(CHANNEL, "#decision-deadline 2026-12-15 ship the release")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:  ")
    finally:
        await _stop_bot(bot)
        await alice.close()
    minutes = tmp_path / "minutes"
    (path,) = minutes_json_files(minutes / "release")
    data = json.loads(path.read_text())
    assert [(i["kind"], i["text"]) for i in data["items"]] == [
        ("decision-deadline", "ship the release (due 2026-12-15)")]
    shown = "DEADLINE: ship the release (due 2026-12-15)"
    assert shown in path.with_suffix(".txt").read_text()
    assert "**DEADLINE:** ship the release \\(due 2026\\-12\\-15\\)" in \
        path.with_suffix(".md").read_text()
    html = path.with_suffix(".html").read_text()
    assert '<span class="kind decision-deadline">DEADLINE:</span> ship the release' in html
    register = json.loads((minutes / "release" / "decisions.json").read_text())
    assert [d["kind"] for d in register] == ["decision-deadline"]
    assert "ship the release" in (minutes / "feed.atom").read_text()

    for kind in ("decision-deadline", "decision"):
        found = json.loads(_cli("search", "release", "--kind", kind, "--json",
                                "-c", str(config)))
        assert [h["kind"] for h in found["hits"]] == ["decision-deadline"], kind
    decisions = json.loads(_cli("decisions", "--json", "-c", str(config)))
    assert [d["kind"] for d in decisions] == ["decision-deadline"]

    server = _serve(config)
    try:
        await asyncio.to_thread(wait_for_port, port, "serve", 20)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/search",
                                   params={"q": "release", "kind": "decision-deadline"}) as r:
                assert [h["kind"] for h in (await r.json())["hits"]] == ["decision-deadline"]
            async with session.get(f"{base}/api/decisions") as r:
                assert [d["kind"] for d in (await r.json())["items"]] == ["decision-deadline"]
            async with session.get(f"{base}/api/openapi.json") as r:
                text = await r.text()
                assert '"decision-deadline"' in text
            async with session.get(f"{base}/search", params={"q": "release"}) as r:
                assert '<option value="decision-deadline"' in await r.text()
    finally:
        await _stop_bot(server)


def test_a_plugin_that_cannot_be_loaded_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[plugins]\nextra = ["no.such.module"]\n')
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "-c", str(config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("openminutes: config error: plugins.extra: No module named")
