"""`python bot.py import`: every corpus log, malformed files, idempotency, other formats."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import Meeting
from openminutes.plugins import default_registry
from openminutes.storage import Storage
from tests.helpers import CORPUS
from tests.test_corpus import assert_matches_meetbot

ROOT = Path(__file__).resolve().parent.parent


def _bot(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp / "config.toml"
    if not config.exists():
        config.write_text(f'[storage]\nurl = "sqlite:///{tmp}/db.sqlite"\n'
                          f'[publish]\ndir = "{tmp}/minutes"\n')
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "-c", str(config)],
                          capture_output=True, text=True, check=False)


async def _meetings(tmp: Path) -> list[tuple[Meeting, list[Line]]]:
    """Each stored meeting as the engine rebuilds it, with its stored lines."""
    storage = await Storage.open(f"sqlite:///{tmp}/db.sqlite")
    engine = Engine(default_registry())
    found = []
    for record in await storage.meetings():
        lines = await storage.lines(record.id)
        found.append((engine.replay(Meeting(record.network, record.channel), lines), lines))
    await storage.close()
    return found


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
async def test_the_whole_corpus_imports_and_matches_meetbot(tmp_path: Path) -> None:
    done = _bot(tmp_path, "import", str(CORPUS / "logs"))
    assert done.returncode == 0, done.stdout + done.stderr
    logs = sorted(CORPUS.glob("logs/*/*.log.txt"))
    assert f"imported {len(logs)} meetings" in done.stdout
    storage = await Storage.open(f"sqlite:///{tmp_path}/db.sqlite")
    engine = Engine(default_registry())
    checked = 0
    for log in logs:
        minutes = CORPUS / "minutes" / log.parent.name / log.name.replace(".log.txt", ".txt")
        source = await storage.source(str(log.resolve()))
        assert source is not None, log
        (meeting_id,) = source[1]
        record = await storage.meeting(meeting_id)
        assert record is not None
        meeting = engine.replay(Meeting("irc", record.channel), await storage.lines(meeting_id))
        assert meeting.ended
        if minutes.exists():
            assert_matches_meetbot(meeting, minutes)
            checked += 1
    assert checked == 4
    await storage.close()
    again = _bot(tmp_path, "import", str(CORPUS / "logs"))
    assert f"{len(logs)} unchanged" in again.stdout


LOG = ("18:00:00 <chair> #startmeeting Imported\n18:00:05 <bob> hello\n"
       "18:00:10 <chair> #agreed ship it\n18:00:20 <chair> #endmeeting\n")


def test_malformed_files_are_reported_and_skipped(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "proj"
    logs.mkdir(parents=True)
    (logs / "empty.2026-01-01-18.00.log.txt").write_bytes(b"")
    (logs / "binary.2026-01-01-18.00.log.txt").write_bytes(bytes(range(256)) * 8)
    (logs / "nostart.2026-01-01-18.00.log.txt").write_text("18:00:00 <bob> just chatting\n")
    (logs / "good.2026-01-02-18.00.log.txt").write_text(LOG)
    done = _bot(tmp_path, "import", str(tmp_path / "logs"))
    assert done.returncode == 1
    assert "imported 1 meetings" in done.stdout
    assert "empty.2026-01-01-18.00.log.txt: no chat lines found" in done.stderr
    assert "binary.2026-01-01-18.00.log.txt: binary file" in done.stderr
    assert "nostart.2026-01-01-18.00.log.txt: no #startmeeting in the log" in done.stderr


async def test_encodings_and_a_truncated_last_line(tmp_path: Path) -> None:
    folder = tmp_path / "logs" / "proj"
    folder.mkdir(parents=True)
    text = LOG.replace("hello", "café ñandú")
    (folder / "latin.2026-01-01-18.00.log.txt").write_bytes(text.encode("latin-1"))
    (folder / "double.2026-01-02-18.00.log.txt").write_bytes(
        text.encode("utf-8").decode("latin-1").encode("utf-8"))
    (folder / "cut.2026-01-03-18.00.log.txt").write_text(text + "18:00:3")
    done = _bot(tmp_path, "import", str(tmp_path / "logs"))
    assert done.returncode == 0, done.stderr
    assert "cut.2026-01-03-18.00.log.txt:5: not a log line, left out: '18:00:3'" in done.stdout
    meetings = await _meetings(tmp_path)
    assert len(meetings) == 3
    for _, lines in meetings:
        assert any(ln.text == "café ñandú" for ln in lines)


async def test_reimport_changes_nothing_and_a_changed_file_is_replaced(tmp_path: Path) -> None:
    log = tmp_path / "proj" / "weekly.2026-01-01-18.00.log.txt"
    log.parent.mkdir()
    log.write_text(LOG)
    assert _bot(tmp_path, "import", str(log)).returncode == 0
    assert "1 unchanged" in _bot(tmp_path, "import", str(log)).stdout
    log.write_text(LOG.replace("ship it", "ship it on Friday"))
    assert "imported 1 meetings" in _bot(tmp_path, "import", str(log)).stdout
    ((meeting, _),) = await _meetings(tmp_path)
    assert [i.text for i in meeting.items] == ["ship it on Friday"]
    outputs = sorted(p.name for p in (tmp_path / "minutes").rglob("*.json"))
    # Filed under the series its file name gives (weekly), not its #startmeeting text.
    assert outputs == ["decisions-2026.json", "decisions.json", "weekly.2026-01-01-18.00.json"]


async def test_client_logs_with_date_and_channel(tmp_path: Path) -> None:
    log = tmp_path / "irssi.log"
    log.write_text(
        "23:58 -!- chair [~c@host] has joined #proj\n"
        "23:58 <@chair> #startmeeting late one\n"
        "23:59 < bob> hi\n"
        "00:01 -!- bob is now known as bobby\n"
        "00:02 <+bobby> #action bobby to write it up\n"
        "00:03 -!- carol [~c@host] has quit [Ping timeout]\n"
        "00:05 <@chair> #endmeeting\n"
        "00:06 <bob> after the meeting\n")
    done = _bot(tmp_path, "import", str(log), "--date", "2026-02-28", "--channel", "proj")
    assert done.returncode == 0, done.stdout + done.stderr
    ((meeting, lines),) = await _meetings(tmp_path)
    assert meeting.channel == "#proj"
    assert meeting.started_at == datetime(2026, 2, 28, 23, 58, tzinfo=UTC)
    assert meeting.ended_at == datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    assert [a.owners for a in meeting.actions()] == [("bobby",)]
    assert [ln.kind for ln in lines].count(LineKind.NICK) == 1
    assert "after the meeting" not in [ln.text for ln in lines]
    undated = tmp_path / "other.log"
    undated.write_text(log.read_text())
    missing_date = _bot(tmp_path, "import", str(undated))
    assert "no date in the file name; give one with --date" in missing_date.stderr


async def test_hcoop_raw_log_and_a_log_that_never_ends(tmp_path: Path) -> None:
    raw = {"channel": "#hcoop", "network": "libera", "name": "weekly", "messages": [
        {"id": "1", "sender": "chair", "payload": "#startmeeting", "action": False,
         "timestamp": "2024-05-06T17:00:00+00:00"},
        {"id": "2", "sender": "bob", "payload": "#info from hcoop", "action": False,
         "timestamp": "2024-05-06T17:00:05+00:00"},
        {"id": "3", "sender": "bob", "payload": "waves", "action": True,
         "timestamp": "2024-05-06T17:00:06+00:00"},
    ]}
    (tmp_path / "weekly.log.json").write_text(json.dumps(raw))
    done = _bot(tmp_path, "import", str(tmp_path / "weekly.log.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "flagged:" in done.stdout
    ((meeting, lines),) = await _meetings(tmp_path)
    assert meeting.channel == "#hcoop"
    assert [i.text for i in meeting.items] == ["from hcoop"]
    assert meeting.ended_at == datetime(2024, 5, 6, 17, 0, 6, tzinfo=UTC)
    assert lines[-1].kind is LineKind.CLOSE
    page = next((tmp_path / "minutes").rglob("*.2024-05-06-17.00.html")).read_text()
    assert "the log ends without #endmeeting" in page


async def test_an_archive_keeps_its_series_and_paths_through_a_rebuild(tmp_path: Path) -> None:
    """MeetBot filed OCI's meetings as logs/oci/opencontainers.DATE; their #startmeeting
    text (the title) named no series. Imported, and rendered again, the paths stay."""
    log = tmp_path / "oci" / "opencontainers.2016-04-13-17.01.log.txt"
    log.parent.mkdir()
    log.write_text("  17:01:28 <wking> #startmeeting 2016-04-13 discussion\n"  # indented,
                   "\t17:01:40 <wking> #agreed keep the URLs\n"  # as pasted in a mail
                   "17:02:00 <wking> #meetingname renamed\n"
                   "17:03:00 <wking> #endmeeting\n")
    done = _bot(tmp_path, "import", str(log))
    assert done.returncode == 0, done.stdout + done.stderr
    stem = tmp_path / "minutes" / "opencontainers" / "2016" / "opencontainers.2016-04-13-17.01"
    assert "2016-04-13 discussion" in (stem.parent / f"{stem.name}.html").read_text()
    ((meeting, lines),) = await _meetings(tmp_path)
    assert len(lines) == 4
    assert [i.text for i in meeting.items] == ["keep the URLs"]
    rebuilt = _bot(tmp_path, "render", "--all")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    series = sorted(p.name for p in (tmp_path / "minutes").iterdir() if p.is_dir())
    assert series == ["opencontainers", "static", "years"]
    assert (stem.parent / f"{stem.name}.log.html").exists()
    register = json.loads((stem.parent.parent / "decisions.json").read_text())
    assert [d["text"] for d in register] == ["keep the URLs"]
