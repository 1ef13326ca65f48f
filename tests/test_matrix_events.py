"""Matrix events into lines, and what edits, redactions and power levels do to a meeting
(pure: no homeserver)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from openminutes.chat.matrix_events import RoomView, convert, strip_reply_fallback
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import MeetingSettings
from tests.helpers import run_lines

T0 = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
MATRIX = MeetingSettings(network_prefixes=(("test", ("#", "!", "^")),))


def _view() -> RoomView:
    return RoomView("test", "#room:a.org", "@bot:a.org",
                    names={"@alice:a.org": "alice", "@alice:b.org": "alice",
                           "@bob:a.org": "Bob Builder"},
                    levels={"@alice:a.org": 100})


def _message(sender: str, body: str, event_id: str = "$e1", /, **content: Any) -> dict[str, Any]:
    return {"type": "m.room.message", "sender": sender, "event_id": event_id,
            "origin_server_ts": 1_700_000_000_000, "content": {"msgtype": "m.text",
                                                                "body": body, **content}}


def test_same_localpart_on_two_servers_are_two_people() -> None:
    view = _view()
    (a,) = convert(view, _message("@alice:a.org", "hi"))
    (b,) = convert(view, _message("@alice:b.org", "hi", "$e2"))
    assert (a.nick, a.identity) == ("alice (@alice:a.org)", "@alice:a.org")
    assert (b.nick, b.identity) == ("alice (@alice:b.org)", "@alice:b.org")
    assert a.time == datetime.fromtimestamp(1_700_000_000, UTC)
    assert a.privileged
    assert not b.privileged


def test_multi_line_message_is_one_line_per_line_with_part_ids() -> None:
    events = convert(_view(), _message("@bob:a.org", "#info one\n\n^idea two\n"))
    assert [(e.text, e.event_id) for e in events] == [("#info one", "$e1"),
                                                       ("^idea two", "$e1|2")]
    assert all(e.nick == "Bob Builder" for e in events)


def test_edit_reply_emote_notice_media_redaction() -> None:
    view = _view()
    (edit,) = convert(view, _message("@bob:a.org", "* fixed", "$e9", **{
        "m.new_content": {"msgtype": "m.text", "body": "fixed\ntwice"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$e1"}}))
    assert (edit.kind, edit.text, edit.relates_to) == (LineKind.EDIT, "fixed\ntwice", "$e1")
    reply_to = {"m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}}
    (reply,) = convert(view, _message("@bob:a.org", "> <@alice:a.org> quoted\n> more\n\nanswer",
                                      "$e1", **reply_to))
    assert reply.text == "answer"
    (emote,) = convert(view, _message("@bob:a.org", "waves", msgtype="m.emote"))
    assert emote.kind is LineKind.ACTION
    (notice,) = convert(view, _message("@bob:a.org", "beep", msgtype="m.notice"))
    assert notice.kind is LineKind.NOTICE
    (image,) = convert(view, _message("@bob:a.org", "cat.png", msgtype="m.image"))
    assert image.text == "(image) cat.png"
    v11 = {"type": "m.room.redaction", "sender": "@alice:a.org", "event_id": "$r",
           "content": {"redacts": "$e1"}}
    (redaction,) = convert(view, v11)
    assert (redaction.kind, redaction.relates_to) == (LineKind.REDACTION, "$e1")
    assert convert(view, _message("@bot:a.org", "my own echo")) == []
    assert strip_reply_fallback("> not a reply fallback") == "> not a reply fallback"


def test_hostile_text_is_cleaned_and_bad_events_ignored() -> None:
    view = _view()
    (line,) = convert(view, _message("@bob:a.org", "a\x00b\x03\x31\x32c\u202e"))
    assert "\x00" not in line.text
    assert "\x03" not in line.text
    assert convert(view, {"type": "m.room.message", "sender": 5, "content": {}}) == []
    no_body = _message("@bob:a.org", "x")
    no_body["content"]["body"] = None
    assert convert(view, no_body) == []
    big = convert(view, _message("@bob:a.org", "x" * 65536))
    assert len(big) == 1
    assert len(big[0].text) == 65536


def test_member_events_join_rename_leave_and_power_levels() -> None:
    view = _view()
    join = {"type": "m.room.member", "sender": "@carol:c.org", "state_key": "@carol:c.org",
            "event_id": "$j", "content": {"membership": "join", "displayname": "carol"}}
    (joined,) = convert(view, join)
    assert (joined.kind, joined.nick) == (LineKind.JOIN, "carol")
    rename = {**join, "event_id": "$n", "content": {"membership": "join", "displayname": "C"},
              "unsigned": {"prev_content": {"membership": "join", "displayname": "carol"}}}
    (renamed,) = convert(view, rename)
    assert (renamed.kind, renamed.nick, renamed.text) == (LineKind.NICK, "carol", "C")
    power = {"type": "m.room.power_levels", "sender": "@alice:a.org", "state_key": "",
             "event_id": "$p", "content": {"users": {"@carol:c.org": 50}}}
    assert convert(view, power) == []
    assert view.level_of("@carol:c.org") == 50
    assert view.level_of("@alice:a.org") == 0


def _line(seq: int, text: str, *, who: str = "alice", kind: LineKind = LineKind.MESSAGE,
          event_id: str | None = None, relates_to: str | None = None,
          privileged: bool = False) -> Line:
    return Line(seq, T0 + timedelta(seconds=seq), kind, who, text, f"@{who}:a.org", False,
                event_id, privileged, relates_to)


def test_edit_rewords_the_item_and_redaction_removes_line_edits_and_item() -> None:
    run = run_lines([
        _line(1, "!sm"),
        _line(2, "#agreed ship on Tusday", event_id="$a"),
        _line(3, "^info keep me", event_id="$b"),
        _line(4, "#agreed ship on Tuesday", kind=LineKind.EDIT, event_id="$c",
              relates_to="$a"),
        _line(5, "#info hijack", who="bob", kind=LineKind.EDIT, event_id="$d",
              relates_to="$b"),  # not the sender: ignored
        _line(6, "secret hunter2", who="bob", event_id="$s"),
        _line(7, "#action secret hunter2 again", who="bob", kind=LineKind.EDIT,
              event_id="$t", relates_to="$s"),
        _line(8, "", kind=LineKind.REDACTION, event_id="$r", relates_to="$s"),
        _line(9, "#info gone soon", event_id="$g"),
        _line(10, "just words", kind=LineKind.EDIT, event_id="$h", relates_to="$g"),
    ], channel="#room:a.org", settings=MATRIX)
    m, log = run.meeting, run.log
    assert [(i.kind.name, i.text) for i in m.items] == [("agreed", "ship on Tuesday"),
                                                         ("info", "keep me")]
    assert log[1].edited
    assert log[1].text == "#agreed ship on Tuesday"
    assert log[5].kind is LineKind.REDACTED
    assert log[5].text == ""
    assert all("hunter2" not in ln.text for ln in log)
    assert m.name == "room"  # a room alias names the meeting by its local part


def test_power_level_makes_a_chair_and_localparts_own_actions() -> None:
    run = run_lines([
        _line(1, "#startmeeting"),
        Line(2, T0, LineKind.MESSAGE, "Bob Builder", "#topic bob may", "@bob:a.org", False,
             "$x", True),
        Line(3, T0, LineKind.MESSAGE, "Carol", "#topic carol may not", "@carol:a.org"),
        _line(4, "#action bob and carol write docs"),
    ], settings=MATRIX)
    m = run.meeting
    assert [i.text for i in m.items if i.kind.name == "topic"] == ["bob may"]
    assert [a.owners for a in m.actions()] == [("Bob Builder", "Carol")]
    assert any("for chairs only" in r for r in run.all_replies)
