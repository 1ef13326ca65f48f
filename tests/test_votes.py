"""Transcript tests of votes: every rule the decision register relies on."""

from __future__ import annotations

from datetime import UTC, datetime

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import ItemKind, Line, LineKind
from openminutes.meetings.state import Meeting, MeetingSettings
from openminutes.meetings.votes import Threshold, VoteRule
from openminutes.plugins import default_registry
from tests.helpers import Run, run_lines, run_transcript

START = "10:00:00 <chair> #startmeeting\n"


def _result(run: Run) -> str:
    (vote,) = run.meeting.votes
    return vote.result


def test_openstack_vote_with_default_options() -> None:
    run = run_transcript(
        START
        + "10:00:01 <chair> #startvote Ship release 2.0?\n"
        "10:00:02 <alice> #vote yes\n"
        "10:00:03 <bob> #vote No\n"
        "10:00:04 <carol> #vote YES\n"
        "10:00:05 <dave> #vote maybe\n"
        "10:00:06 <dave> #showvote\n"
        "10:00:07 <chair> #endvote\n"
    )
    assert run.replies_to(2) == [
        "Begin voting on: Ship release 2.0? Valid vote options are Yes, No, Abstain.",
        "Vote using '#vote OPTION'. Only your last vote counts.",
    ]
    assert run.replies_to(3) == []  # a first ballot needs no answer
    assert run.replies_to(6) == [
        "dave: 'maybe' is not a valid option. Valid options: Yes, No, Abstain."]
    assert run.replies_to(7) == [
        "Ship release 2.0? Yes 2, No 1, Abstain 0 (3 ballots; simple majority)"]
    assert run.replies_to(8) == [
        "Voted on: Ship release 2.0? Motion PASSED: Yes 2, No 1, Abstain 0 (simple majority)"]
    item = run.meeting.items[-1]
    assert (item.kind, item.line) == (ItemKind.VOTE, 8)
    assert item.kind.is_decision


def test_options_and_plurality() -> None:
    run = run_transcript(
        START
        + "10:00:01 <chair> #startvote Which name? Apple, Pear, Plum\n"
        "10:00:02 <alice> #vote pear\n"
        "10:00:03 <bob> #vote Pear\n"
        "10:00:04 <carol> #vote plum\n"
        "10:00:05 <chair> #endvote\n"
    )
    assert _result(run) == "Pear wins: Apple 0, Pear 2, Plum 1 (simple majority, plurality)"


def test_tie_has_no_winner() -> None:
    run = run_transcript(
        START
        + "10:00:01 <chair> #startvote Which? A, B\n"
        "10:00:02 <alice> #vote A\n"
        "10:00:03 <bob> #vote B\n"
        "10:00:04 <chair> #endvote\n"
    )
    assert _result(run).startswith("No winner (tie): A 1, B 1")


def test_a_second_vote_replaces_the_first() -> None:
    run = run_transcript(
        START
        + "10:00:01 <chair> #startvote Q?\n"
        "10:00:02 <alice> #vote Yes\n"
        "10:00:03 <alice> #vote No\n"
        "10:00:04 <alice> #vote no\n"
        "10:00:05 <chair> #endvote\n"
    )
    assert run.replies_to(4) == ["alice: your vote No replaces your earlier Yes."]
    assert run.replies_to(5) == ["alice: your vote is still No; it counts once."]
    assert "Yes 0, No 1, Abstain 0" in _result(run)
    (vote,) = run.meeting.votes
    assert [(b.choice, b.replaced) for b in vote.ballots] == [
        ("Yes", True), ("No", True), ("No", False)]


def test_a_nick_change_during_the_vote_counts_once() -> None:
    run = run_transcript(START + "10:00:01 <chair> #startvote Q?\n10:00:02 <alice> #vote Yes\n")
    engine = Engine(default_registry())
    t = datetime(2016, 3, 2, 10, 0, 3, tzinfo=UTC)
    engine.apply(run.meeting, Line(4, t, LineKind.NICK, "alice", "alice_away"))
    out = engine.apply(run.meeting, Line(5, t, LineKind.MESSAGE, "alice_away", "#vote No"))
    assert out.replies == ["alice_away: your vote No replaces your earlier Yes."]
    engine.apply(run.meeting, Line(6, t, LineKind.MESSAGE, "chair", "#endvote"))
    assert "Yes 0, No 1, Abstain 0" in run.meeting.votes[0].result


def test_one_ballot_per_account_whatever_the_nick() -> None:
    t = datetime(2016, 3, 2, 10, 0, tzinfo=UTC)
    lines = [
        Line(1, t, LineKind.MESSAGE, "chair", "#startmeeting"),
        Line(2, t, LineKind.MESSAGE, "chair", "#startvote Q?"),
        Line(3, t, LineKind.MESSAGE, "alice", "#vote Yes", identity="alice-acct"),
        Line(4, t, LineKind.MESSAGE, "alice2", "#vote No", identity="alice-acct"),
        Line(5, t, LineKind.MESSAGE, "chair", "#endvote"),
    ]
    run = run_lines(lines)
    assert "Yes 0, No 1, Abstain 0" in _result(run)


def test_ineligible_voter_is_recorded_as_not_counted() -> None:
    run = run_transcript(
        START
        + "10:00:01 <chair> #voters alice, bob\n"
        "10:00:02 <chair> #startvote Q?\n"
        "10:00:03 <alice> #vote Yes\n"
        "10:00:04 <mallory> #vote No\n"
        "10:00:05 <chair> #voters\n"
        "10:00:06 <chair> #endvote\n"
    )
    assert run.replies_to(2) == ["Voters: alice bob"]
    assert run.replies_to(5) == [
        "mallory: your vote was not counted: you are not on the voters list."]
    assert run.replies_to(6) == ["Voters: alice bob"]
    (vote,) = run.meeting.votes
    assert [(b.voter, b.counted) for b in vote.ballots] == [("alice", True), ("mallory", False)]
    assert "Yes 1, No 0, Abstain 0" in vote.result


def test_quorum_not_met_fails_the_motion() -> None:
    run = run_transcript(
        START
        + "10:00:01 <chair> #voterule quorum=3\n"
        "10:00:02 <chair> #motion Adopt the charter\n"
        "10:00:03 <alice> #vote +1\n"
        "10:00:04 <bob> #vote +1\n"
        "10:00:05 <chair> #close\n"
    )
    assert run.replies_to(2) == ["Vote rule: quorum 3, simple majority"]
    assert _result(run) == (
        "Motion FAILED: Yes 2, No 0, Abstain 0 (quorum 3 not met, simple majority)")


def _motion(ballots: str, rule: str = "") -> str:
    lines = [START.strip(), f"10:00:01 <chair> #voterule {rule}" if rule else "",
             "10:00:02 <chair> #motion M"]
    for n, choice in enumerate(ballots.split()):
        lines.append(f"10:00:{10 + n:02d} <voter{n}> #vote {choice}")
    lines.append("10:00:59 <chair> #endvote")
    return _result(run_transcript("\n".join(ln for ln in lines if ln)))


def test_simple_majority_needs_more_than_half() -> None:
    assert _motion("+1 +1 -1").startswith("Motion PASSED")
    assert _motion("+1 -1").startswith("Motion FAILED")  # a tie is not a majority
    assert _motion("+1 0 0 0").startswith("Motion PASSED")  # abstentions ignored


def test_abstentions_counted() -> None:
    result = _motion("+1 0 0", "abstentions=counted")
    assert result == "Motion FAILED: Yes 1, No 0, Abstain 2 (simple majority, abstentions counted)"


def test_two_thirds() -> None:
    assert _motion("+1 +1 -1", "threshold=two-thirds").startswith("Motion PASSED")
    assert _motion("+1 +1 -1 -1", "threshold=two-thirds").startswith("Motion FAILED")


def test_unanimity() -> None:
    assert _motion("+1 +1 0", "threshold=unanimity").startswith("Motion PASSED")
    assert _motion("+1 +1 -1", "threshold=unanimity").startswith("Motion FAILED")
    assert _motion("", "threshold=unanimity").startswith("Motion FAILED")


def test_the_result_line_states_the_rule() -> None:
    result = _motion("+1 +1 +1 +1 +1 -1 0 0", "quorum=5")
    assert result == "Motion PASSED: Yes 5, No 1, Abstain 2 (quorum 5 met, simple majority)"


def test_channel_rule_from_config() -> None:
    settings = MeetingSettings(channel_vote_rules=(("#tc", VoteRule(2, Threshold.TWO_THIRDS)),))
    run = run_transcript(START + "10:00:01 <chair> #motion M\n10:00:02 <a> #vote +1\n"
                         "10:00:03 <chair> #endvote\n", channel="#TC", settings=settings)
    assert _result(run) == (
        "Motion FAILED: Yes 1, No 0, Abstain 0 (quorum 2 not met, two-thirds majority)")


def test_vote_left_open_is_closed_by_endmeeting() -> None:
    run = run_transcript(START + "10:00:01 <chair> #startvote Q?\n10:00:02 <a> #vote Yes\n"
                         "10:00:03 <chair> #endmeeting\n")
    assert run.replies_to(4)[0] == (
        "Vote closed by #endmeeting: Q? Motion PASSED: Yes 1, No 0, Abstain 0 "
        "(simple majority) [closed by #endmeeting]")
    (vote,) = run.meeting.votes
    assert vote.closed_by_meeting_end
    assert run.meeting.items[-1].kind is ItemKind.VOTE


def test_undo_after_endvote_removes_the_result() -> None:
    run = run_transcript(START + "10:00:01 <chair> #startvote Q?\n10:00:02 <a> #vote Yes\n"
                         "10:00:03 <chair> #endvote\n10:00:04 <chair> #undo\n")
    assert run.replies_to(5)[0].startswith("Removing item from minutes: VOTE: Q? Motion PASSED")
    assert run.meeting.votes == []
    assert run.meeting.items == []


def test_only_chairs_run_votes_and_one_vote_at_a_time() -> None:
    run = run_transcript(START + "10:00:01 <alice> #startvote Q?\n10:00:02 <chair> #startvote A?\n"
                         "10:00:03 <chair> #startvote B?\n10:00:04 <alice> #endvote\n"
                         "10:00:05 <bob> #vote yes\n")
    assert run.replies_to(2) == ["alice: #startvote is for chairs only (chairs: chair)."]
    assert run.replies_to(4) == ["A vote is already open: A? (#endvote closes it)."]
    assert run.meeting.open_vote is not None
    assert run.meeting.open_vote.question == "A?"


def test_vote_without_an_open_vote() -> None:
    run = run_transcript(START + "10:00:01 <alice> #vote yes\n")
    assert run.replies_to(2) == ["alice: no vote is open."]


def test_replay_rebuilds_votes() -> None:
    run = run_transcript(START + "10:00:01 <chair> #startvote Q? A, B\n10:00:02 <x> #vote a\n"
                         "10:00:03 <chair> #endvote\n")
    again = Engine(default_registry()).replay(Meeting("test", "#test"), run.lines)
    assert again.votes == run.meeting.votes
