"""`openminutes amend` as an operator runs it, on an imported meeting (a written one and a
real one from ../shared/corpus), on SQLite and PostgreSQL: each command checked in every
output format, in search, in the feeds, in the decision register and in the webhooks;
a redacted secret looked for in every file under the publish dir, in the database's own
files, in a dump and in a `db copy`, and found nowhere."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import CORPUS
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "xyzzyplugh-hunter2"
TOKEN = "xyzzyplugh"  # a word of it as the full-text index keeps it, prefix and all
WRITTEN = f"""\
10:00:00 <alice> #startmeeting Release planning
10:00:05 <alice> #topic Schedule
10:00:10 <bob> we ship on Friday then
10:00:15 <alice> #action bob writes the notes
10:00:20 <carol> #info the staging password is {SECRET}
10:00:22 <carol> oops, that was the real one
10:00:25 <alice> #agreed carol rotates the staging password
10:00:30 <alice> #endmeeting
"""


@dataclass
class Case:
    log: Path
    channel: str
    secret: str  # said on line `secret_line`, in an item
    needles: tuple[str, ...]  # what of it is looked for in files
    secret_line: int
    plain_line: int  # a plain line that was a decision
    action_line: int
    item_line: int  # a line that made an item


def _written(tmp: Path) -> Case:
    log = tmp / "logs" / "release.2026-11-30-10.00.log.txt"
    log.parent.mkdir()
    log.write_text(WRITTEN)
    return Case(log, "#release", SECRET, (SECRET, TOKEN), 5, 3, 4, 7)


def _corpus(_tmp: Path) -> Case:
    log = CORPUS / "logs" / "fedora" / "magazine.2020-06-10-12.02.log.txt"
    if not log.exists():
        pytest.skip("../shared/corpus is absent")
    said = log.read_text().splitlines()
    assert said[31].endswith("#info Week of Jun 1: 61.3k page views -- slightly above "
                             "our recent average")
    assert said[32].endswith("asamalik: want to take the reins?")
    action = next(n for n, text in enumerate(said, 1) if "#action" in text
                  and "zodbot" not in text)
    info = next(n for n, text in enumerate(said, 1) if "#info -- 2/" in text)
    return Case(log, "#fedora-magazine", "61.3k", ("61.3k page views",), 32, 33, action,
                info)


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[str, list[dict[str, object]], list[bytes]]]:
    received: list[dict[str, object]] = []
    bodies: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        bodies.append(body)
        received.append(json.loads(body))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/hook", received, bodies
    await runner.cleanup()


def _read(path: Path) -> str:
    return path.read_text()


def _check_outputs(stem: Path, case: Case) -> dict[str, Any]:
    """Every output format, as published again after the last amendment; the JSON."""
    minutes: dict[str, Any] = json.loads(Path(f"{stem}.json").read_text())
    assert [a["action"] for a in minutes["amendments"]] == ["redact", "retag", "owners",
                                                            "untag"]
    assert minutes["amendments"][0]["by"] == "Ops Person"
    assert minutes["amendments"][0]["reason"] == "a password was pasted"
    assert all(a["applied"] for a in minutes["amendments"])
    removed = next(e for e in minutes["log"] if e["line"] == case.secret_line)
    assert (removed["kind"], removed["text"]) == ("redacted", "a password was pasted")
    assert {"kind": "agreed", "text": "ship it <b>on Friday</b>"}.items() <= next(
        i for i in minutes["items"] if i["line"] == case.plain_line).items()
    assert next(a for a in minutes["actions"] if a["line"] == case.action_line)[
        "owners"] == ["carol", "dave"]
    assert not any(i["line"] == case.item_line for i in minutes["items"])
    html = Path(f"{stem}.html").read_text()
    assert '<h2 id="amendments">Amendments</h2>' in html
    assert "ship it &lt;b&gt;on Friday&lt;/b&gt;" in html
    assert "<b>on Friday" not in html
    assert "by Ops Person" in html
    assert "Reason: a password was pasted" in html
    assert f"line {case.secret_line}: removed" in html
    for suffix in (".txt", ".md"):
        text = " ".join(Path(f"{stem}{suffix}").read_text().split())  # unwrapped
        assert "Amendments" in text
        assert "a password was pasted" in text
        assert ("ship it &lt;b&gt;on Friday&lt;/b&gt;" if suffix == ".md"
                else "ship it <b>on Friday</b>") in text
    log_txt = Path(f"{stem}.log.txt").read_text().splitlines()
    assert log_txt[case.secret_line - 1].endswith("*** (removed: a password was pasted)")
    assert "(removed: a password was pasted)" in Path(f"{stem}.log.html").read_text()

    return minutes


async def _bot(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bot.py"), *args, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _ok(*args: str) -> str:
    code, out, err = await _bot(*args)
    assert code == 0, f"{args}: {out}{err}"
    return out


def _pg_dump(url: str) -> bytes:
    return subprocess.run(["pg_dump", url], capture_output=True, check=True).stdout


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


@pytest.mark.parametrize("source", [_written, _corpus], ids=["written", "corpus"])
async def test_each_amendment_reaches_every_output_and_a_redaction_leaves_no_trace(
        source: object, database_url: str, tmp_path: Path,
        hooks: tuple[str, list[dict[str, object]], list[bytes]]) -> None:
    assert callable(source)
    case: Case = source(tmp_path)
    hook_url, received, bodies = hooks
    publish = tmp_path / "minutes"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{database_url}"\n[publish]\ndir = "{publish}"\n'
                      'base_url = "https://minutes.example.org"\n'
                      f'[[notify.webhook]]\nurl = "{hook_url}"\n')
    c = ("-c", str(config))
    await _ok("import", *c, "--channel", case.channel, str(case.log))
    meeting = json.loads(await _ok("meetings", *c, "--json"))[0]
    mid, stem = str(meeting["id"]), publish / meeting["files"]
    search = json.loads(await _ok("search", *c, case.secret, "--json"))
    assert search["total"] >= 1  # found before the redaction

    out = await _ok("amend", "redact", *c, mid, str(case.secret_line),
                    "--reason", "a password was pasted", "--by", "Ops Person")
    assert f"line {case.secret_line}: removed" in out
    await _ok("amend", "retag", *c, mid, str(case.plain_line), "agreed", "--text",
              "ship it <b>on Friday</b>", "--reason", "said as plain text")
    await _ok("amend", "owners", *c, mid, str(case.action_line), "carol", "dave")
    await _ok("amend", "untag", *c, mid, str(case.item_line), "--reason", "not an item")

    minutes = _check_outputs(stem, case)

    # The register, the feeds and search.
    series = stem.parent.parent
    register = json.loads((series / "decisions.json").read_text())
    assert "ship it <b>on Friday</b>" in [d["text"] for d in register]
    feed = (series / "amendments.atom").read_text()
    assert feed.count("<entry>") == 4
    assert "a password was pasted" in feed
    assert "ship it &lt;b&gt;on Friday&lt;/b&gt;" in (series / "feed.atom").read_text()
    hits = json.loads(await _ok("search", *c, "ship Friday", "--kind", "decision", "--json"))
    assert any(h["line"] == case.plain_line for h in hits["hits"])
    listed = json.loads(await _ok("amend", "list", *c, mid, "--json"))
    assert [a["action"] for a in listed] == ["redact", "retag", "owners", "untag"]
    assert len(listed[0]["sha256"]) == 64
    assert listed[3]["by"]

    # The webhooks: one event per amendment, the secret in none.
    for _ in range(100):
        if len([r for r in received if r["event"] == "meeting.amended"]) == 4:
            break
        await asyncio.sleep(0.05)
    amended = [r for r in received if r["event"] == "meeting.amended"]
    assert [r["amendment"]["action"] for r in amended] == [  # type: ignore[index]
        "redact", "retag", "owners", "untag"]

    # A rebuild keeps every amendment, and the secret stays gone.
    await _ok("render", *c, "--all")
    assert json.loads(_read(Path(f"{stem}.json")))["amendments"] == \
        minutes["amendments"]
    await _assert_gone(case, database_url, publish, tmp_path, c, bodies)


async def _assert_gone(case: Case, database_url: str, publish: Path, tmp: Path,
                       c: tuple[str, str], bodies: list[bytes]) -> None:
    assert json.loads(await _ok("search", *c, case.secret, "--json"))["total"] == 0
    copy = tmp / "copy.db"
    await _ok("db", "copy", *c, "--to", f"sqlite:///{copy}", "-q")
    dump = b""
    if database_url.startswith("postgresql"):
        dump = _pg_dump(database_url)
        assert b"CREATE TABLE public.amendments" in dump
    for needle in (n.encode() for n in case.needles):
        assert _files_holding(publish, needle) == []
        assert not any(needle in body for body in bodies)
        held = [p for p in _files_holding(tmp, needle) if not p.startswith(f"{tmp}/logs/")]
        assert held == [], f"{needle!r} in the database files or the copy"
        assert needle not in dump


async def test_amend_refuses_what_it_cannot_do_and_stores_nothing(
        database_url: str, tmp_path: Path) -> None:
    case = _written(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{database_url}"\n[publish]\n'
                      f'dir = "{tmp_path / "minutes"}"\n')
    c = ("-c", str(config))
    await _ok("import", *c, "--channel", case.channel, str(case.log))
    for args, error in [
        (("redact", "1", "99", "--reason", "x"), "meeting 1 has no line 99"),
        (("untag", "1", "3"), "line 3 made no item"),
        (("retag", "1", "3", "nonsense"), "no item kind 'nonsense'"),
        (("owners", "1", "7", "bob"), "line 7 made no action item"),
        (("untag", "7", "3"), "no meeting 7"),
        (("redact", "1", "5", "--reason", " "), "a redaction needs --reason"),
    ]:
        code, out, err = await _bot("amend", *args[:1], *c, *args[1:])
        assert (code, error in err) == (1, True), (args, out, err)
    code, _, err = await _bot("amend", "redact", *c, "1", "5")
    assert code == 2
    assert "--reason" in err
    assert json.loads(await _ok("amend", "list", *c, "--json")) == []
    assert SECRET in Path(tmp_path / "minutes").joinpath(
        json.loads(await _ok("meetings", *c, "--json"))[0]["files"] + ".log.txt").read_text()


async def test_an_open_meeting_is_not_amended(tmp_path: Path) -> None:
    log = tmp_path / "open.2026-11-30-10.00.log.txt"
    log.write_text("10:00:00 <alice> #startmeeting\n10:00:05 <alice> #topic x\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/om.db"\n[publish]\n'
                      f'dir = "{tmp_path / "minutes"}"\n')
    c = ("-c", str(config))
    # An import closes a log that never ends; a meeting still open is one being recorded.
    await _ok("import", *c, "--channel", "#open", str(log))
    with sqlite3.connect(tmp_path / "om.db") as db:
        db.execute("UPDATE meetings SET ended_at = NULL")
    code, _, err = await _bot("amend", "untag", *c, "1", "2")
    assert code == 1
    assert "meeting 1 is still open" in err



async def test_redacting_the_start_line_keeps_the_meeting_and_drops_its_title(
        tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sec.2026-11-30-10.00.log.txt"
    log.parent.mkdir()
    log.write_text(f"10:00:00 <alice> #startmeeting board {SECRET}\n"
                   "10:00:05 <alice> #agreed keep going\n"
                   f"10:00:10 <alice> #endmeeting {SECRET}\n")
    config = tmp_path / "config.toml"
    publish = tmp_path / "minutes"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/om.db"\n[publish]\n'
                      f'dir = "{publish}"\n')
    c = ("-c", str(config))
    await _ok("import", *c, "--channel", "#sec", str(log))
    for line in ("1", "3"):
        await _ok("amend", "redact", *c, "1", line, "--reason", "a secret in the title")
    minutes = json.loads(_read(next(publish.rglob("sec.*.json"))))
    assert minutes["ended_at"]
    assert minutes["title"] == "#sec Meeting"
    assert [i["text"] for i in minutes["items"]] == ["keep going"]
    assert [e["kind"] for e in minutes["log"]] == ["redacted", "message", "redacted"]
    await _assert_gone(Case(log, "#sec", SECRET, (SECRET, TOKEN), 1, 0, 0, 0),
                       "sqlite", publish, tmp_path, c, [])
