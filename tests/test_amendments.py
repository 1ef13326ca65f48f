"""Amendments applied to a replayed meeting (the pure part: meetings/amendments.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openminutes.meetings.amendments import apply_amendments, redacted_lines
from openminutes.meetings.model import Action, Amendment, ItemKind, LineKind
from openminutes.plugins import default_registry
from tests.helpers import Run, run_lines, run_transcript

MEETING = """\
10:00:00 <alice> #startmeeting release
10:00:05 <alice> #topic Schedule
10:00:10 <bob> we ship on Friday then
10:00:15 <alice> #action bob writes the notes
10:00:20 <carol> the password is hunter2
10:00:25 <alice> #agreed carol rotates it
10:00:30 <alice> #startvote Ship it? yes, no
10:00:35 <bob> #vote yes
10:00:40 <alice> #endvote
10:00:45 <alice> #endmeeting
"""
AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
KINDS = default_registry().kinds()


def _amend(run: Run, *amendments: Amendment) -> None:
    apply_amendments(run.meeting, amendments, {ln.seq: ln for ln in run.lines}, KINDS)


def _described(run: Run) -> list[str]:
    return [item.describe() for item in run.meeting.items]


def _a(action: Action, line: int, **kw: object) -> Amendment:
    return Amendment(action, line, "ops", AT, "why", **kw)  # type: ignore[arg-type]


def test_retag_makes_a_plain_line_a_decision_in_its_place() -> None:
    run = run_transcript(MEETING)
    _amend(run, _a(Action.RETAG, 3, kind="agreed"))
    assert _described(run)[:3] == ["TOPIC: Schedule", "AGREED: we ship on Friday then",
                                   "ACTION: bob writes the notes"]
    assert run.meeting.amendments[0].change == \
        "line 3: a plain line → AGREED: we ship on Friday then"
    assert not run.meeting.amendments[0].error


def test_retag_changes_an_item_kind_and_its_text() -> None:
    run = run_transcript(MEETING)
    _amend(run, _a(Action.RETAG, 6, kind="info", text="carol will rotate it"))
    assert "carol will rotate it" in [i.text for i in run.meeting.items]
    assert "AGREED: carol rotates it" not in _described(run)
    assert not any(i.kind.decision and i.line == 6 for i in run.meeting.items)


def test_untag_removes_the_item_and_a_vote_result_takes_its_vote() -> None:
    run = run_transcript(MEETING)
    _amend(run, _a(Action.UNTAG, 4), _a(Action.UNTAG, 9))
    assert not run.meeting.actions()
    assert not run.meeting.votes
    assert [a.change for a in run.meeting.amendments] == [
        "line 4: ACTION: bob writes the notes → a plain line",
        "line 9: VOTE: Ship it? yes wins: yes 1, no 0 (simple majority, plurality) "
        "→ a plain line"]


def test_owners_replace_the_owners_named_in_the_text() -> None:
    run = run_transcript(MEETING)
    assert run.meeting.actions()[0].owners == ("bob",)
    _amend(run, _a(Action.OWNERS, 4, owners=("carol", "alice", "carol")))
    assert run.meeting.actions()[0].owners == ("carol", "alice")


def test_redact_shows_the_reason_and_drops_what_the_line_made() -> None:
    run = run_transcript(MEETING)
    _amend(run, Amendment(Action.REDACT, 5, "ops", AT, "a secret"),
           Amendment(Action.REDACT, 6, "ops", AT, "named the secret"))
    shown = run.log[4]
    assert (shown.kind, shown.text) == (LineKind.REDACTED, "a secret")
    assert "hunter2" not in repr(run.meeting.amendments)
    assert not any(i.line == 6 for i in run.meeting.items)


@pytest.mark.parametrize(("amendment", "error"), [
    (_a(Action.UNTAG, 3), "line 3 made no item"),
    (_a(Action.OWNERS, 6, owners=("bob",)), "line 6 made no action item"),
    (_a(Action.RETAG, 3, kind="nonsense"), "no item kind 'nonsense'"),
    (_a(Action.RETAG, 9, kind="agreed"), "a vote and its result"),
    (_a(Action.RETAG, 3, kind="vote"), "a vote and its result"),
    (_a(Action.RETAG, 99, kind="agreed"), "the meeting has no line 99"),
])
def test_an_amendment_that_cannot_apply_changes_nothing_and_says_why(
        amendment: Amendment, error: str) -> None:
    run = run_transcript(MEETING)
    before = _described(run)
    _amend(run, amendment)
    assert _described(run) == before
    applied = run.meeting.amendments[0]
    assert error in applied.error
    assert applied.change.startswith(f"line {amendment.line}: not applied: ")


def test_a_removed_line_can_make_no_item_and_cannot_be_removed_twice() -> None:
    run = run_transcript(MEETING)
    _amend(run, _a(Action.REDACT, 5), _a(Action.RETAG, 5, kind="info"), _a(Action.REDACT, 5))
    assert [bool(a.error) for a in run.meeting.amendments] == [False, True, True]


def test_a_join_is_not_something_said() -> None:
    lines = list(run_transcript(MEETING).lines)
    joined = lines[1]._replace(kind=LineKind.JOIN, text="")
    run = run_lines([lines[0], joined, *lines[2:]])
    _amend(run, _a(Action.RETAG, 2, kind="info"))
    assert "not something a participant said" in run.meeting.amendments[0].error


def test_redacted_lines_are_the_redactions_only() -> None:
    assert redacted_lines([_a(Action.REDACT, 3), _a(Action.UNTAG, 4),
                           _a(Action.REDACT, 1, text="#startmeeting")]) == {
        3: "", 1: "#startmeeting"}


def test_retag_to_a_topic_regroups_the_minutes() -> None:
    run = run_transcript(MEETING)
    _amend(run, _a(Action.RETAG, 5, kind="topic", text="Security"))
    topics = [i.text for i in run.meeting.items if i.kind == ItemKind.TOPIC]
    assert topics == ["Schedule", "Security"]
