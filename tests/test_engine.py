"""Transcript tests of the engine: chat lines in, replies and state out."""

from __future__ import annotations

from datetime import timedelta

from openminutes.meetings.model import ItemKind
from openminutes.meetings.state import Attendee, MeetingSettings
from tests.helpers import run_transcript


def test_startmeeting_replies_in_meetbots_words() -> None:
    run = run_transcript("18:01:15 <alice> #startmeeting Weekly sync")
    assert run.replies_to(1) == [
        "Meeting started Wed Mar  2 18:01:15 2016 UTC.  The chair is alice.",
        "Useful Commands: #action #agreed #help #idea #info #link #topic.",
        "The meeting name has been set to 'weekly_sync'",
    ]
    m = run.meeting
    assert (m.founder, m.title, m.name, m.chair_nicks()) == (
        "alice", "Weekly sync", "weekly_sync", ["alice"])


def test_name_defaults_to_channel() -> None:
    run = run_transcript("10:00:00 <alice> #startmeeting", channel="#fedora-meeting")
    assert run.meeting.name == "fedora-meeting"
    assert run.meeting.title == "#fedora-meeting Meeting"
    assert len(run.replies_to(1)) == 2


def test_commands_are_case_insensitive_and_accept_a_colon() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #TOPIC: Budget\n"
        "10:00:02 <alice> #Info: the number is 3\n"
        "10:00:03 <bob> #ACTION bob to pay\n"
    )
    kinds = [(i.kind, i.text) for i in run.meeting.items]
    assert kinds == [(ItemKind.TOPIC, "Budget"), (ItemKind.INFO, "the number is 3"),
                     (ItemKind.ACTION, "bob to pay")]


def test_words_that_are_not_commands_get_no_reply_and_no_item() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <bob> #1234 is the bug\n"
        "10:00:02 <bob> #channel-name is where we meet\n"
        "10:00:03 <bob> #frobnicate the thing\n"
        "10:00:04 <bob> see #info in the middle\n"
        "10:00:05 <bob> #infoX glued\n"
    )
    assert run.meeting.items == []
    assert run.all_replies[2:] == []


def test_non_chair_is_told_once_and_nothing_is_recorded() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <carol> #topic mine\n"
        "10:00:02 <carol> #agreed mine too\n"
        "10:00:03 <carol> #endmeeting\n"
    )
    assert run.replies_to(2) == ["carol: #topic is for chairs only (chairs: alice)."]
    assert run.replies_to(3) == []
    assert run.replies_to(4) == []
    assert run.meeting.items == []
    assert not run.meeting.ended


def test_anyone_may_end_a_meeting_that_ran_past_its_length() -> None:
    text = (
        "10:00:00 <alice> #startmeeting\n"
        "10:59:59 <carol> #endmeeting\n"
        "11:00:01 <carol> #endmeeting\n"
    )
    run = run_transcript(text, settings=MeetingSettings(max_length=timedelta(minutes=60)))
    assert run.meeting.ended_at is not None
    assert run.meeting.ended_at.strftime("%H:%M:%S") == "11:00:01"
    assert run.replies_to(3) == ["Meeting ended Wed Mar  2 11:00:01 2016 UTC."]


def test_chair_unchair_and_the_founder_stays() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #chair bob, carol dave\n"
        "10:00:02 <bob> #unchair alice carol\n"
        "10:00:03 <carol> #topic not a chair any more\n"
    )
    assert run.replies_to(2) == ["Current chairs: alice bob carol dave"]
    assert run.replies_to(3) == ["alice started the meeting and stays a chair.",
                                 "Current chairs: alice bob dave"]
    assert run.meeting.items == []


def test_undo_says_what_it_removed() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #agreed to ship\n"
        "10:00:02 <alice> #undo\n"
        "10:00:03 <alice> #undo\n"
    )
    assert run.replies_to(3) == ["Removing item from minutes: AGREED: to ship"]
    assert run.replies_to(4) == ["Nothing to undo."]
    assert run.meeting.items == []


def test_aliases_record_their_item_kinds() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #agree a\n"
        "10:00:02 <alice> #accept b\n"
        "10:00:03 <alice> #reject c\n"
        "10:00:04 <bob> #idea d\n"
        "10:00:05 <bob> #halp e\n"
        "10:00:06 <bob> #link https://example.org/ the site\n"
        "10:00:07 <bob> https://example.org/auto is auto-linked\n"
    )
    assert [i.kind.name for i in run.meeting.items] == [
        "agreed", "accepted", "rejected", "idea", "help", "link", "link"]


def test_empty_item_gets_a_usage_reply() -> None:
    run = run_transcript("10:00:00 <alice> #startmeeting\n10:00:01 <bob> #link\n")
    assert run.replies_to(2) == ["Usage: #link URL [TEXT]"]
    assert run.meeting.items == []


def test_meetingname_and_meetingtopic() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #meetingname ../../etc/Passwd Team\n"
        "10:00:02 <alice> #meetingtopic Our weekly call\n"
    )
    assert run.replies_to(2) == ["The meeting name has been set to 'etc_passwd_team'"]
    assert run.meeting.title == "Our weekly call"


def test_lurk_keeps_recording_but_stops_replies() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #lurk\n"
        "10:00:02 <alice> #chair bob\n"
        "10:00:03 <alice> #info recorded\n"
        "10:00:04 <alice> #unlurk\n"
        "10:00:05 <alice> #chair carol\n"
    )
    assert run.replies_to(3) == []
    assert [i.text for i in run.meeting.items] == ["recorded"]
    assert run.replies_to(6) == ["Current chairs: alice bob carol"]


def test_action_owners_with_awkward_nicks() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <vbatts|work> hi\n"
        "10:00:02 <nick_> hi\n"
        "10:00:03 <bob`> hi\n"
        "10:00:04 <x^y> hi\n"
        "10:00:05 <carol[m]> hi\n"
        "10:00:06 <alice> #nick Dave\n"
        "10:00:07 <alice> #action VBATTS|WORK and nick_ to look\n"
        "10:00:08 <alice> #action bob` with x^y\n"
        "10:00:09 <alice> #action carol to bridge; dave reviews\n"
        "10:00:10 <alice> #action bobby and nick to do nothing\n"
        "10:00:11 <alice> #action alice: herself, alices not\n"
    )
    owners = [a.owners for a in run.meeting.actions()]
    assert owners == [("vbatts|work", "nick_"), ("bob`", "x^y"), ("carol[m]", "Dave"), (),
                      ("alice",)]


def test_attendees_count_lines_and_list_silent_chairs() -> None:
    run = run_transcript(
        "10:00:00 <alice> #startmeeting\n"
        "10:00:01 <alice> #chair zed\n"
        "10:00:02 <bob> one\n"
        "10:00:03 * bob waves\n"
        "10:00:04 <alice> #endmeeting\n"
    )
    assert run.meeting.attendees() == [Attendee("alice", 3), Attendee("bob", 2),
                                       Attendee("zed", 0)]


def test_chair_keeps_rights_across_a_nick_change() -> None:
    from openminutes.meetings.model import Line, LineKind

    run = run_transcript("10:00:00 <alice> #startmeeting\n10:00:01 <alice> #chair bob\n")
    from openminutes.meetings.engine import Engine
    from openminutes.plugins import default_registry

    engine = Engine(default_registry())
    t = run.meeting.started_at
    assert t is not None
    engine.apply(run.meeting, Line(3, t, LineKind.NICK, "bob", "bob_away"))
    engine.apply(run.meeting, Line(4, t, LineKind.MESSAGE, "bob_away", "#topic still chair"))
    engine.apply(run.meeting, Line(5, t, LineKind.MESSAGE, "alice", "#action bob to write"))
    assert [i.text for i in run.meeting.items] == ["still chair", "bob to write"]
    assert run.meeting.actions()[0].owners == ("bob_away",)
    assert "bob_away" in run.meeting.chair_nicks()


def test_commands_and_help_list_every_command() -> None:
    run = run_transcript("10:00:00 <alice> #startmeeting\n10:00:01 <bob> #commands\n"
                         "10:00:02 <bob> #help\n")
    (listing,) = run.replies_to(2)
    for name in ("#action", "#agreed", "#chair", "#endmeeting", "#lurk", "#meetingname",
                 "#nick", "#save", "#undo", "#unchair", "#unlurk", "#startmeeting"):
        assert name in listing
    # MeetBot's bare #help is a call for help in the minutes, not the bot's help.
    assert run.replies_to(3) == []
    assert [(i.kind.name, i.text) for i in run.meeting.items] == [("help", "")]


def test_replay_rebuilds_the_same_state() -> None:
    text = (
        "10:00:00 <alice> #startmeeting Replay\n"
        "10:00:01 <alice> #chair bob\n"
        "10:00:02 <bob> #topic t\n"
        "10:00:03 <bob> #action alice to x\n"
        "10:00:04 <alice> #undo\n"
        "10:00:05 <alice> #agreed y\n"
    )
    run = run_transcript(text)
    first = run.meeting
    from openminutes.meetings.engine import Engine
    from openminutes.meetings.state import Meeting
    from openminutes.plugins import default_registry

    again = Engine(default_registry()).replay(Meeting("test", "#test"), run.lines)
    assert again.items == first.items
    assert again.chairs == first.chairs
    assert again.attendees() == first.attendees()
