"""Compatibility with the bots projects switch from: MeetBot (Debian/Supybot), OpenStack's
MeetBot, hcoop-meetbot, meetingology (Ubuntu, with Mootbot's spellings) and
maubot-meetings. Each transcript is written from the peer's documented behaviour (its
manual, README or changelog) and is checked through both paths a meeting takes, live
(the engine) and imported (`import` of the log, through storage and the publisher), in
every output format."""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from openminutes.chat.base import ChatEvent
from openminutes.chat.console import ConsoleAdapter
from openminutes.importer.run import Importer
from openminutes.meetings.engine import Engine
from openminutes.meetings.model import LineKind
from openminutes.meetings.state import Meeting, MeetingSettings
from openminutes.plugins import default_registry
from openminutes.publish.files import files_for, stem_for
from openminutes.publish.publisher import Publisher
from openminutes.publish.render import render_all
from openminutes.publish.viewmodel import EXTENSIONS, build
from openminutes.storage import Storage
from tests.helpers import run_transcript

DAY = date(2016, 3, 2)


@dataclass(frozen=True)
class Case:
    origin: str
    transcript: str
    items: list[tuple[str, str]]  # (kind, text), in order
    owners: dict[str, list[str]] = field(default_factory=dict)  # action text -> owners
    present: dict[str, int] = field(default_factory=dict)  # nick -> lines (a subset)
    votes: list[str] = field(default_factory=list)  # each vote's result
    replies: dict[int, list[str]] = field(default_factory=dict)  # line -> replies (live)


CASES = {
    "hcoop-failed-inconclusive": Case(
        "hcoop-meetbot: #failed and #inconclusive document decisions (chairs only)",
        "10:00:00 <ken> #startmeeting board\n"
        "10:00:10 <ken> #failed Budget was not approved\n"
        "10:00:20 <ken> #inconclusive There was no agreement on a fix\n"
        "10:00:30 <ed> #failed ed may not decide\n"
        "10:00:40 <ken> #endmeeting\n",
        [("failed", "Budget was not approved"),
         ("inconclusive", "There was no agreement on a fix")],
        replies={2: [], 3: [], 4: ["ed: #failed is for chairs only (chairs: ken)."]},
    ),
    "hcoop-here": Case(
        "hcoop-meetbot: #here marks attendance; its alias then owns action items",
        "10:00:00 <ken> #startmeeting board\n"
        "10:00:05 <ken> #here pronovic\n"
        "10:00:06 <layline_> #here layline\n"
        "10:00:07 <ed> #here\n"
        "10:00:10 <ken> #action pronovic to file the taxes\n"
        "10:00:20 <ken> #action layline and pronovic review the budget\n"
        "10:00:30 <ken> #endmeeting\n",
        [("action", "pronovic to file the taxes"),
         ("action", "layline and pronovic review the budget")],
        owners={"pronovic to file the taxes": ["ken"],
                "layline and pronovic review the budget": ["layline_", "ken"]},
        present={"ken": 5, "layline_": 1, "ed": 1},
        replies={2: [], 3: [], 4: []},
    ),
    "meetbot-empty-commands": Case(
        "MeetBot: commands said alone are items with no text (a bare #help is HELP:)",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:01 <chair> #topic\n"
        "10:00:02 <chair> #info\n"
        "10:00:03 <bob> #idea\n"
        "10:00:04 <bob> #help\n"
        "10:00:05 <bob> #action\n"
        "10:00:06 <chair> #agreed\n"
        "10:00:07 <chair> #accepted\n"
        "10:00:08 <chair> #rejected\n"
        "10:00:09 <chair> #endmeeting\n",
        [("topic", ""), ("info", ""), ("idea", ""), ("help", ""), ("action", ""),
         ("agreed", ""), ("accepted", ""), ("rejected", "")],
        replies={n: [] for n in range(2, 10)},
    ),
    "meetbot-nick": Case(
        "MeetBot: names given with #nick are present with 0 lines and own action items",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <chair> #nick MrGreen, MsAlizarin\n"
        "10:00:10 <chair> #action MrGreen will read the entire Internet\n"
        "10:00:20 <chair> #endmeeting\n",
        [("action", "MrGreen will read the entire Internet")],
        owners={"MrGreen will read the entire Internet": ["MrGreen"]},
        present={"chair": 4, "MrGreen": 0, "MsAlizarin": 0},
    ),
    "meetbot-links": Case(
        "MeetBot and hcoop: a line starting with a URL of a known scheme is a link",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <bob> ssh://git@example.org/repo.git is where it lives\n"
        "10:00:06 <bob> https://example.org/agenda the agenda\n"
        "10:00:07 <bob> see ssh://example.org later\n"
        "10:00:20 <chair> #endmeeting\n",
        [("link", "ssh://git@example.org/repo.git is where it lives"),
         ("link", "https://example.org/agenda the agenda")],
    ),
    "openstack-vote-without-commas": Case(
        "OpenStack MeetBot: without commas, spaces separate the options",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <chair> #startvote Pick one? red green blue\n"
        "10:00:06 <bob> #vote red\n"
        "10:00:07 <carol> #vote Blue\n"
        "10:00:08 <dave> #vote red\n"
        "10:00:09 <chair> #endvote\n"
        "10:00:20 <chair> #endmeeting\n",
        [("vote", "Pick one? red wins: red 2, green 0, blue 1 (simple majority, plurality)")],
        votes=["red wins: red 2, green 0, blue 1 (simple majority, plurality)"],
        replies={2: ["Begin voting on: Pick one? Valid vote options are red, green, blue.",
                     "Vote using '#vote OPTION'. Only your last vote counts."], 3: []},
    ),
    "openstack-vote-with-commas": Case(
        "OpenStack MeetBot: commas separate options that have spaces in them",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <chair> #startvote Where? in person, on line\n"
        "10:00:06 <bob> #vote on line\n"
        "10:00:09 <chair> #endvote\n"
        "10:00:20 <chair> #endmeeting\n",
        [("vote", "Where? on line wins: in person 0, on line 1 (simple majority, plurality)")],
        votes=["on line wins: in person 0, on line 1 (simple majority, plurality)"],
    ),
    "meetingology-brackets": Case(
        "meetingology: Mootbot's [TOPIC] [IDEA] [ACTION] [AGREED] [LINK] spellings",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <chair> [TOPIC] Release plans\n"
        "10:00:06 <bob> [IDEA] ship monthly\n"
        "10:00:07 <bob> [ACTION] bob to draft the calendar\n"
        "10:00:08 <chair> [AGREED] monthly releases\n"
        "10:00:09 <bob> [LINK] https://example.org/calendar\n"
        "10:00:10 <bob> [agreed] bob cannot agree\n"
        "10:00:20 <chair> #endmeeting\n",
        [("topic", "Release plans"), ("idea", "ship monthly"),
         ("action", "bob to draft the calendar"), ("agreed", "monthly releases"),
         ("link", "https://example.org/calendar")],
        owners={"bob to draft the calendar": ["bob"]},
    ),
    "meetingology-subtopic": Case(
        "meetingology: #subtopic (alias #progress) records a subtopic",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <chair> #topic Packages\n"
        "10:00:06 <chair> #subtopic gcc\n"
        "10:00:07 <chair> #progress llvm\n"
        "10:00:20 <chair> #endmeeting\n",
        [("topic", "Packages"), ("subtopic", "gcc"), ("subtopic", "llvm")],
    ),
    "meetingology-vote": Case(
        "meetingology: #vote TOPIC opens a vote; +1, -1 and +0 lines are ballots; "
        "#votesrequired N needs N in favour",
        "10:00:00 <chair> #startmeeting\n"
        "10:00:05 <chair> #votesrequired 3\n"
        "10:00:06 <chair> #vote Adopt the new logo\n"
        "10:00:07 <bob> +1 love it\n"
        "10:00:08 <carol> +1\n"
        "10:00:09 <dave> -1 too blue\n"
        "10:00:10 <erin> +0\n"
        "10:00:11 <frank> +10 is not a ballot\n"
        "10:00:12 <chair> #endvote\n"
        "10:00:20 <chair> #endmeeting\n",
        [("vote", "Adopt the new logo Motion FAILED: Yes 2, No 1, Abstain 1 "
                  "(simple majority, 3 in favour required)")],
        votes=["Motion FAILED: Yes 2, No 1, Abstain 1 (simple majority, 3 in favour required)"],
        replies={2: ["Votes in favour required: 3"],
                 3: ["Please vote on: Adopt the new logo",
                     "Vote by saying +1, -1 or +0 (abstain) in the channel. "
                     "Only your last vote counts."], 4: []},
    ),
}


def _live(case: Case) -> tuple[dict[str, str], list[list[str]]]:
    run = run_transcript(case.transcript, day=DAY, channel="#compat")
    m = run.meeting
    assert m.started_at is not None
    assert m.ended
    files = files_for(stem_for(m.name, m.started_at))
    outputs = render_all(build(m, 1, files, files), run.log)
    return outputs, [replies for _, replies in run.replies]


async def _imported(case: Case, tmp: Path) -> dict[str, str]:
    log = tmp / "compat" / "compat.2016-03-02-10.00.log.txt"
    log.parent.mkdir(parents=True)
    log.write_text(case.transcript)
    storage = await Storage.open(f"sqlite:///{tmp}/db.sqlite")
    root = tmp / "minutes"
    try:
        importer = Importer(storage, Engine(default_registry()), Publisher(storage, root),
                            MeetingSettings(), channel="#compat")
        summary = await importer.run([log], progress=False)
        assert (summary.meetings, summary.failed) == (1, [])
    finally:
        await storage.close()
    # Filed as the archive filed it: the same path the old links point at.
    stem = root / "compat" / "2016" / "compat.2016-03-02-10.00"
    return {key: await asyncio.to_thread(Path(f"{stem}.{ext}").read_text, encoding="utf-8")
            for key, ext in EXTENSIONS.items()}


def _check(case: Case, outputs: dict[str, str]) -> None:
    data: dict[str, Any] = json.loads(outputs["json"])
    assert [(i["kind"], i["text"]) for i in data["items"]] == case.items
    owners = {a["text"]: a["owners"] for a in data["actions"]}
    for text, expected in case.owners.items():
        assert sorted(owners[text]) == sorted(expected)
    present = {a["nick"]: a["lines"] for a in data["attendees"]}
    assert {n: present.get(n) for n in case.present} == case.present
    assert [v["result"] for v in data["votes"]] == case.votes
    labels = {"failed": "FAILED", "inconclusive": "INCONCLUSIVE", "idea": "IDEA",
              "help": "HELP", "action": "ACTION", "agreed": "AGREED", "accepted": "ACCEPTED",
              "rejected": "REJECTED", "link": "LINK", "vote": "VOTE", "subtopic": "SUBTOPIC"}
    for kind, text in case.items:
        label = labels.get(kind)
        shown = f"{label}: {text}".rstrip() if label else text
        assert shown in " ".join(outputs["txt"].split()), (kind, text)
        assert (f"**{label}:**" if label else text) in outputs["md"]
        if kind == "link":  # the URL becomes a link; the words after it follow
            url, _, rest = text.partition(" ")
            assert html.escape(url) in outputs["html"]
            assert rest in outputs["html"]
        elif text:
            assert html.escape(text, quote=False) in outputs["html"]
        elif label:
            assert f"{label}:" in outputs["html"]
    if "#startmeeting\n" in case.transcript:  # untitled: "#compat Meeting", said once
        assert "<title>#compat Meeting</title>" in outputs["html"]
    assert "#compat: #compat" not in outputs["txt"] + outputs["md"] + outputs["log_html"]
    for nick in case.present:
        assert f"{nick} (" in outputs["txt"]


@pytest.mark.parametrize("name", sorted(CASES))
async def test_both_paths_in_every_output(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    live, replies = _live(case)
    _check(case, live)
    for line, expected in case.replies.items():
        assert replies[line - 1] == expected, line
    imported = await _imported(case, tmp_path)
    _check(case, imported)
    # The log is the same either way; the minutes differ only in where they link.
    assert json.loads(imported["json"])["items"] == json.loads(live["json"])["items"]


def test_topic_sets_the_channel_topic_in_meetbots_words_and_end_restores_it() -> None:
    run = run_transcript(
        "10:00:00 <chair> #startmeeting\n"
        "10:00:01 <chair> #topic Budget\n"
        "10:00:02 <chair> #meetingtopic Weekly board\n"
        "10:00:03 <chair> #topic\n"
        "10:00:04 <chair> #lurk\n"
        "10:00:05 <chair> #topic Quiet one\n"
        "10:00:06 <chair> #unlurk\n"
        "10:00:07 <chair> #endmeeting\n")
    engine = Engine(default_registry())
    meeting = Meeting("irc", "#test")
    asked = [(o.topic, o.restore_topic) for o in
             (engine.apply(meeting, line) for line in run.lines)]
    assert asked == [
        (None, False),
        ("Budget", False),  # no meeting title given: the topic alone, as MeetBot
        ("Budget (Meeting topic: Weekly board)", False),  # #meetingtopic keeps it in
        (None, False),  # an empty #topic changes no channel topic
        (None, False),
        (None, False),  # lurking, MeetBot changes no topic
        (None, False),
        (None, True),  # the end puts the earlier topic back
    ]


def test_console_as_speaks_as_someone_else_and_nick_is_a_nick_change() -> None:
    console = ConsoleAdapter()
    console.speaker = "alice"
    got: list[ChatEvent] = []
    for text in ("/as bob +1 from bob", "/as carol", "/nick carol2"):
        assert console._command(text, got.append)  # type: ignore[arg-type]
    assert [(e.nick, e.kind, e.text) for e in got] == [
        ("bob", LineKind.MESSAGE, "+1 from bob"), ("carol", LineKind.NICK, "carol2")]
    assert console.speaker == "carol2"


def test_voterule_keeps_what_votesrequired_set() -> None:
    run = run_transcript(
        "10:00:00 <chair> #startmeeting\n"
        "10:00:01 <chair> #votesrequired 2\n"
        "10:00:02 <chair> #voterule quorum=1\n"
        "10:00:03 <chair> #motion Ship it\n"
        "10:00:04 <bob> #vote +1\n"
        "10:00:05 <chair> #endvote\n")
    (vote,) = run.meeting.votes
    assert (vote.rule.quorum, vote.rule.yes_required) == (1, 2)
    assert vote.result == ("Motion FAILED: Yes 1, No 0, Abstain 0 "
                           "(quorum 1 met, simple majority, 2 in favour required)")
