"""Golden files of every output, rendered through the real templates, and escaping checks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from openminutes.meetings.model import Line
from openminutes.publish.files import files_for, stem_for
from openminutes.publish.render import render_all
from openminutes.publish.viewmodel import MinutesView, build
from tests.helpers import run_transcript

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _view(name: str) -> tuple[MinutesView, list[Line]]:
    run = run_transcript((HERE / "transcripts" / f"{name}.log.txt").read_text())
    meeting = run.meeting
    assert meeting.started_at is not None
    files = files_for(stem_for(meeting.name, meeting.started_at))
    urls = {k: f"https://minutes.example.org/{v}" for k, v in files.items()}
    return build(meeting, 1, files, urls), run.log


def _outputs(name: str) -> dict[str, str]:
    return render_all(*_view(name))


@pytest.mark.parametrize("output", ["html", "txt", "md", "log_html", "log_txt", "json"])
def test_golden(output: str) -> None:
    rendered = _outputs("weekly")[output]
    golden = GOLDEN / f"weekly.{output}"
    if UPDATE:
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_json_schema_fields() -> None:
    data = json.loads(_outputs("weekly")["json"])
    for key in ("id", "network", "channel", "name", "started_at", "ended_at", "founder",
                "chairs", "items", "actions", "attendees", "log", "files"):
        assert key in data
    assert data["started_at"] == "2016-03-02T18:01:15Z"
    assert data["ended_at"] == "2016-03-02T18:03:50Z"
    assert set(data["items"][0]) == {"kind", "text", "nick", "time", "line"}
    assert data["actions"][0]["owners"] == ["bob", "carol"]
    assert data["actions"][1]["owners"] == []
    assert {"nick": "carol", "lines": 4} in data["attendees"]
    (vote,) = data["votes"]
    assert vote["question"] == "Release on Friday?"
    assert vote["tally"] == {"Yes": 1, "No": 1, "Abstain": 1}
    assert vote["result"] == "Motion FAILED: Yes 1, No 1, Abstain 1 (simple majority)"
    assert vote["rule"] == "simple majority"
    assert [(b["voter"], b["choice"], b["counted"]) for b in vote["ballots"]] == [
        ("bob", "Yes", True), ("carol", "Yes", False), ("carol", "No", True),
        ("mallory", "Abstain", True)]
    assert vote["ballots"][0] == {"voter": "bob", "choice": "Yes", "time": "2016-03-02T18:03:42Z",
                                  "line": 19, "counted": True, "status": "counted"}
    assert data["log"][6] == {"line": 7, "time": "2016-03-02T18:02:00Z", "nick": "carol",
                              "kind": "action", "text": "cheers"}
    assert data["files"]["log_html"].endswith(".log.html")


def test_html_outputs_are_inert() -> None:
    outputs = _outputs("weekly")
    for key in ("html", "log_html"):
        html = outputs[key]
        assert "<script>" not in html
        assert "<img" not in html
        assert not re.search(r"href=\"\s*(javascript|data):", html, re.IGNORECASE)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<title>#test: Weekly &lt;sync&gt; &amp; &#34;review&#34;" in html
    html = outputs["html"]
    assert '<a href="https://example.org/notes?a=1&amp;b=2"' in html
    # Sentence punctuation is not part of the URL.
    assert '<a href="https://example.org/rc1.tar.gz"' in html


def test_markdown_output_is_inert() -> None:
    md = _outputs("weekly")["md"]
    assert "<script>" not in md
    assert "<img" not in md
    assert "](javascript:" not in md
    assert "<https://example.org/notes?a=1&b=2>" in md


def test_items_link_to_their_log_lines() -> None:
    view, log = _view("weekly")
    outputs = render_all(view, log)
    log_name = Path(view.files["log_html"]).name
    for item in view.items:
        assert f'href="{log_name}#l-{item.line}"' in outputs["html"]
        assert f'id="l-{item.line}"' in outputs["log_html"]
