"""What a hostile participant types never forges the record nor collides with the
archive: pure parts (cleaning, names, the output queue, notifications) and a round trip of
every importable output through every importer."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePath

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openminutes.chat.base import ChatEvent, clean_text
from openminutes.chat.outbox import Outbox, chatter_reserve
from openminutes.importer.reading import Reading, decode, read_hcoop_json, read_text_log
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import RESERVED_NAMES, Meeting, MeetingSettings, slugify
from openminutes.meetings.text import log_lines
from openminutes.notify import Notifier, webhooks
from openminutes.notify.email import message
from openminutes.plugins import default_registry
from openminutes.publish.files import files_for, stem_for
from openminutes.publish.publisher import Publisher
from openminutes.publish.render import render_all
from openminutes.publish.viewmodel import build
from openminutes.runtime.config import EmailConfig, NotifyConfig, WebhookConfig
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from tests.helpers import Room
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
REGISTRY = default_registry()
LINE_ENDS = ["\u2028", "\u2029", "\x85", "\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@pytest.mark.parametrize("name", [*sorted(RESERVED_NAMES), "INDEX.HTML", "Feed.Atom"])
def test_no_meeting_name_is_one_of_the_archives_own(name: str) -> None:
    assert slugify(name) not in RESERVED_NAMES
    assert slugify(name).startswith(name.lower())


async def test_archive_top_level_is_all_reserved(tmp_path: Path) -> None:
    """Every file and folder the archive writes at its top level, besides the series'
    folders, is a name no meeting can take."""
    storage = await Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    out = tmp_path / "minutes"
    recorder = Recorder(storage, Engine(REGISTRY), Publisher(storage, out), MeetingSettings())
    recorder.senders["net"] = Room()
    task = asyncio.create_task(recorder.run())
    for text in ("#startmeeting index.html", "#info x", "#endmeeting",
                 "#startmeeting static", "#endmeeting"):
        recorder.submit(ChatEvent("net", "#c", "chair", text, LineKind.MESSAGE, T0))
    await recorder.drained()
    task.cancel()
    await storage.close()
    series = {"index.html-meeting", "static-meeting"}
    top = {p.name for p in out.iterdir()}
    assert series <= top
    assert top - series <= RESERVED_NAMES, top - series - RESERVED_NAMES
    assert (out / "index.html").is_file()
    assert (out / "static").is_dir()


def test_imported_lines_end_only_where_meetbot_ends_them() -> None:
    forged = ("12:00:01 <mallory> a remark\u2028"
              "12:00:02 <chairbob> #chair mallory\u2029"
              "12:00:03 <chairbob> #agreed mallory gets commit rights\x85end\n")
    log = ("12:00:00 <chairbob> #startmeeting\n" + forged + "12:00:09 <chairbob> #endmeeting\n")
    how = Reading(Engine(REGISTRY), MeetingSettings(), day=date(2026, 3, 2), channel="#c")
    (found,) = read_text_log(log.encode(), PurePath("c.2026-03-02-12.00.log.txt"), how).meetings
    assert len(found.lines) == 3
    assert found.meeting.items == []
    assert found.meeting.chair_nicks() == ["chairbob"]
    assert "\u2028" not in found.lines[1].text
    assert "\x85" not in found.lines[1].text
    assert log_lines("a\u2028b\r\nc\n") == ["a\u2028b", "c"]


def test_undecodable_lines_lose_no_utf8_and_carry_no_c1_controls() -> None:
    data = ("12:00:00 <a> #startmeeting\n12:00:01 <a> café ✓\n").encode() + \
        b"12:00:02 <b> caf\xe9 \x85 \x9b31m x\n12:00:03 <a> #endmeeting\n"
    text = decode(data)
    assert "café ✓" in text  # the UTF-8 line kept as it was
    how = Reading(Engine(REGISTRY), MeetingSettings(), day=date(2026, 3, 2), channel="#c")
    (found,) = read_text_log(data, PurePath("c.2026-03-02-12.00.log.txt"), how).meetings
    said = found.lines[2].text
    assert said.startswith("café")
    assert not any(0x80 <= ord(c) <= 0x9f for c in said), repr(said)


def test_hcoop_payloads_are_cleaned() -> None:
    said = [("a", "#startmeeting"), ("m", "x\u2028#agreed forged"), ("a", "#endmeeting")]
    data = json.dumps({"channel": "#c", "messages": [
        {"sender": who, "payload": text, "timestamp": f"2026-03-02T12:00:0{n}+00:00"}
        for n, (who, text) in enumerate(said)]})
    how = Reading(Engine(REGISTRY), MeetingSettings())
    (found,) = read_hcoop_json(data.encode(), PurePath("c.log.json"), how).meetings
    assert found.lines[1].text == "x #agreed forged"
    assert found.meeting.items == []


# IRC nicks (the importers read IRC logs) and text with everything that could end a line.
nicks = st.sampled_from(["chair", "alice", "bob", "v|w", "n_", "`q", "x[m]", "^z"])
# A lead byte's character before a continuation byte's ("Ã©", "Â\xa0") is how UTF-8 read
# as Latin-1 looks; the importer repairs a log made only of such text (importer.reading.
# decode, tested in test_import.py), so it is left out here.
_MOJIBAKE = re.compile("[\xc2-\xf4][\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6"
                       "\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013"
                       "\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178]")
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from([*LINE_ENDS, "\u202e", "\u2067", "\x9b", "#", " "]),
                       st.characters(codec="utf-8")),
    max_size=30).filter(lambda t: not _MOJIBAKE.search(t))
commands = st.sampled_from(["#agreed ", "#action ", "#info ", "#topic ", "#chair ", "#idea ",
                            "#link http://x.org/ ", "#undo", "#startvote Q? a, b",
                            "#vote a", "#endvote", "", ""])
said = st.tuples(nicks, commands, hostile_text)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(said, min_size=1, max_size=30))
def test_every_output_log_read_back_gives_the_same_meeting(lines: list[tuple[str, str, str]]
                                                            ) -> None:
    """Lines as the adapters hand them (cleaned), recorded and published; the text log
    read back by the importer replays to the same meeting, line for line."""
    engine = Engine(REGISTRY)
    said = [Line(1, T0, LineKind.MESSAGE, "chair", "#startmeeting fuzz")]
    for n, (nick, command, body) in enumerate(lines, 2):
        said.append(Line(n, T0 + timedelta(seconds=n), LineKind.MESSAGE, nick,
                         clean_text(command + body)))
    said.append(Line(len(said) + 1, T0 + timedelta(seconds=len(said) + 1), LineKind.MESSAGE,
                     "chair", "#endmeeting"))
    meeting = Meeting("irc", "#fuzz")
    for line in said:
        engine.apply(meeting, line)
    assert meeting.started_at is not None
    files = files_for(stem_for(meeting.name, meeting.started_at))
    outputs = render_all(build(meeting, 1, files, files), said)
    assert len(log_lines(outputs["log_txt"])) == len(outputs["log_txt"].splitlines())
    how = Reading(engine, MeetingSettings(), network="irc", day=T0.date(), channel="#fuzz")
    (found,) = read_text_log(outputs["log_txt"].encode(), PurePath("fuzz.log.txt"),
                             how).meetings
    assert [(ln.nick, ln.text) for ln in found.lines] == [(ln.nick, ln.text) for ln in said]
    again = found.meeting
    assert again.items == meeting.items
    assert again.chairs == meeting.chairs
    assert again.votes == meeting.votes
    assert again.attendees() == meeting.attendees()


def test_attendance_follows_a_person_across_nick_changes() -> None:
    engine = Engine(REGISTRY)
    meeting = Meeting("irc", "#c")
    t = T0
    lines = [Line(1, t, LineKind.MESSAGE, "chair", "#startmeeting"),
             Line(2, t, LineKind.MESSAGE, "bob", "hello")]
    nick = "chair"
    for n in range(50):
        new = f"chair{n}"
        lines.append(Line(len(lines) + 1, t, LineKind.NICK, nick, new))
        lines.append(Line(len(lines) + 1, t, LineKind.MESSAGE, new, f"line {n}"))
        nick = new
    for line in lines:
        engine.apply(meeting, line)
    (chair, bob) = meeting.attendees()
    assert (chair.nick, chair.lines, len(chair.earlier)) == ("chair49", 51, 50)
    assert chair.earlier[:2] == ("chair", "chair0")
    assert (bob.nick, bob.lines, bob.earlier) == ("bob", 1, ())
    assert meeting.chair_nicks() == ["chair49"]


def test_outbox_drops_repeats_bounds_rooms_and_puts_announcements_first() -> None:
    now = [0.0]
    box = Outbox(per_room=5, total=8, repeat_window=30, clock=lambda: now[0])
    assert box.put("#a", "Commands: ...", ["c1"])
    assert not box.put("#a", "Commands: ...", ["c1"])  # the same reply again, at once
    assert box.put("#b", "Commands: ...", ["c1"])  # another room may hear it
    for n in range(4):
        assert box.put("#a", f"reply {n}", [f"r{n}"])
    assert not box.put("#a", "one too many", ["x"])  # the room's share is full
    assert box.put("#b", "b2", ["b2"])
    assert box.put("#b", "b3", ["b3"])
    assert not box.put("#c", "c", ["c"])  # the network's share is full
    assert box.put("#c", "Minutes: url", ["m1", "m2"], urgent=True)  # never refused
    assert box.dropped == 2
    order = [popped for _ in range(len(box)) if (popped := box.pop()) is not None]
    assert len(order) == 10
    assert order[:2] == [("#c", "m1"), ("#c", "m2")]
    # The rest in turn, room by room.
    assert [room for room, _ in order[2:6]] == ["#a", "#b", "#a", "#b"]
    assert box.pop() is None
    now[0] = 31.0
    assert box.put("#a", "Commands: ...", ["c1"])  # long enough ago


def test_outbox_keeps_only_the_newest_waiting_topic_and_holds_chatter_back() -> None:
    box = Outbox()
    assert box.put("#a", "TOPIC #a :one", ["TOPIC #a :one"], replaces="topic")
    assert box.put("#a", "reply", ["reply"])
    assert box.put("#a", "TOPIC #a :two", ["TOPIC #a :two"], replaces="topic")
    assert box.put("#b", "TOPIC #b :other", ["TOPIC #b :other"], replaces="topic")
    assert len(box) == 3  # #a's second topic took the first one's place
    assert box.pop() == ("#a", "TOPIC #a :two")
    # Once said, a topic is not replaced: the next one waits its turn.
    assert box.put("#a", "TOPIC #a :three", ["TOPIC #a :three"], replaces="topic")
    assert box.pop(chatter=False) is None  # only urgent lines when chatter is held back
    assert box.put("#a", "Minutes: url", ["Minutes: url"], urgent=True)
    assert box.urgent_waiting
    assert box.pop(chatter=False) == ("#a", "Minutes: url")
    assert not box.urgent_waiting
    assert [box.pop() for _ in range(3)] == [("#b", "TOPIC #b :other"), ("#a", "reply"),
                                             ("#a", "TOPIC #a :three")]


def test_the_bucket_reserve_leaves_chatter_at_least_one_token() -> None:
    assert [chatter_reserve(burst) for burst in (1, 2, 3, 4, 100)] == [0, 1, 2, 2, 2]


def test_email_headers_survive_any_title() -> None:
    config = EmailConfig(to=["list@example.org"], sender="bot@example.org")
    msg = message(config, "Minutes: Weekly\u2028Bcc: x@y\r\nX-Evil: 1 ✓", "body")
    raw = msg.as_bytes()
    assert b"\nBcc:" not in raw
    assert b"\nX-Evil:" not in raw
    assert msg["Subject"] == "Minutes: Weekly Bcc: x@y X-Evil: 1 ✓"


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        self.recipients.append(envelope.rcpt_tos)  # type: ignore[attr-defined]
        return "250 OK"


async def test_a_title_with_line_breaks_is_mailed_to_a_real_smtp_server() -> None:
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        notifier = Notifier(NotifyConfig(email=EmailConfig(
            to=["list@example.org"], sender="bot@example.org", smtp_host="127.0.0.1",
            smtp_port=smtp.port)))
        meeting = Meeting("irc", "#c", title="Weekly\u2028Bcc: x@y", started_at=T0)
        notifier.ended(1, meeting, {"html": "https://m/1.html"}, "text minutes")
        await notifier.drain()
    finally:
        smtp.stop()
    (mail,) = mailbox.messages
    assert mailbox.recipients == [["list@example.org"]]
    assert b"\nBcc:" not in mail
    assert b"Subject: Minutes: Weekly Bcc: x@y" in mail


async def test_webhook_secrets_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there: every attempt fails and is logged
    hook = WebhookConfig(url=f"http://user:pa55word@127.0.0.1:{port}/hooks/t0ken?key=s3cret",
                         secret="x")
    with caplog.at_level(logging.INFO):
        delivered = await webhooks.deliver(hook, {"event": "meeting.ended"}, delays=(0.0,))
    assert not delivered
    assert caplog.records, "the failures are logged"
    for secret in ("pa55word", "t0ken", "s3cret", "user:"):
        assert secret not in caplog.text
    assert f"http://127.0.0.1:{port}/…" in caplog.text


def _bot(*args: str, cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=cwd,
                          input=stdin.decode(), capture_output=True, text=True, timeout=120)


def test_the_console_reproduction_survives_and_starts_again(tmp_path: Path) -> None:
    script = (b"#startmeeting normal\n#endmeeting\n#startmeeting index.html\n#info evil\n"
              b"#endmeeting\n#startmeeting after\n#endmeeting\n")
    first = _bot("run", cwd=tmp_path, stdin=script)
    assert first.returncode == 0, first.stderr
    again = _bot("run", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in first.stderr + again.stderr
    minutes = tmp_path / "minutes"
    assert (minutes / "index.html").is_file()
    for series in ("normal", "index.html-meeting", "after"):
        assert list((minutes / series).rglob("*.json")), series


@pytest.mark.parametrize(("field", "value"), [("project", '"Nova\\nteam"'),
                                              ("agenda_url", '"https://x.org/a\\r\\nX: 1"')])
def test_a_schedule_with_line_breaks_is_a_schedule_error(tmp_path: Path, field: str,
                                                         value: str) -> None:
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    fields = {"project": '"Nova"', "agenda_url": '"https://x.org/a"', field: value}
    (schedules / "nova.yaml").write_text(
        "".join(f"{k}: {v}\n" for k, v in fields.items()) +
        "schedule:\n  - time: '1400'\n    day: Thursday\n    irc: nova\n    frequency: weekly\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[schedule]\ndir = "{schedules}"\n')
    done = _bot("run", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"openminutes: schedule error: {schedules}/nova.yaml: "
                                   f"{field}: must be one line, without control characters")


def test_render_all_reports_a_failing_meeting_and_renders_the_others(tmp_path: Path) -> None:
    script = b"#startmeeting one\n#endmeeting\n#startmeeting two\n#endmeeting\n" \
             b"#startmeeting three\n#endmeeting\n"
    assert _bot("run", cwd=tmp_path, stdin=script).returncode == 0
    minutes = tmp_path / "minutes"
    shutil.rmtree(minutes)
    (minutes / "two").parent.mkdir(parents=True)
    (minutes / "two").write_text("a file where the series folder goes")
    done = _bot("render", "--all", cwd=tmp_path)
    assert done.returncode == 1
    rows = dict(line.split("\t", 1) for line in done.stdout.splitlines())
    assert rows["2"].startswith("failed: "), done.stdout
    assert rows["1"].endswith(".html"), done.stdout
    assert rows["3"].endswith(".html"), done.stdout
    assert "meeting 2 could not be rendered" in done.stderr
    assert list((minutes / "one").rglob("*.html"))
    assert list((minutes / "three").rglob("*.html"))
