"""Random command sequences and hostile text thrown at the engine and the templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openminutes.meetings.engine import Engine
from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.state import Meeting
from openminutes.plugins import default_registry
from openminutes.publish.files import files_for, stem_for
from openminutes.publish.render import render_all
from openminutes.publish.viewmodel import build

REGISTRY = default_registry()
COMMANDS = sorted({n for c in REGISTRY.commands() for n in (c.name, *c.aliases)})
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
           "JaVa\tScRiPt:x", "data:text/html,<b>x</b>", "' OR 1=1--", "%s%n%c", "\u202eevil",
           "\u200b", "\ufffd", "&amp;", "]]>", "{{ 7*7 }}", "{% raw %}", "\\", "`", "#1234",
           "http://example.org/a?b=<c>", "mailto:x@y", "../../etc/passwd", "+1", "-1", "0",
           "Yes", "no", "A, B, C", "Q?"]
NICKS = ["chair", "alice", "bob", "<b>x</b>", "x[m]", "v|w", "n_", "`q", "^", "\"'"]

# Everything our templates may emit; anything else in the HTML came from user text.
TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "a",
        "time", "ol", "ul", "li", "span", "strong", "section", "table", "tr", "th", "td",
        "footer", "script", "main", "nav", "bdi"}
ATTRS = {"lang", "charset", "name", "content", "href", "rel", "id", "class", "datetime", "src",
         "defer", "aria-label"}
OUR_SCRIPT = "../../static/localtime.js"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []
        self.scripts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))
        for name, value in attrs:
            self.attrs.add(name)
            if name == "href" and value is not None:
                self.hrefs.append(value)


text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                 st.lists(st.sampled_from(HOSTILE), max_size=4).map(" ".join))
command_line = st.builds(lambda c, a: f"#{c} {a}", st.sampled_from(COMMANDS), text)
event = st.tuples(
    st.sampled_from(NICKS),
    st.one_of(command_line, command_line, text),
    st.sampled_from([LineKind.MESSAGE] * 8 + [LineKind.ACTION, LineKind.NICK, LineKind.QUIT]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=40))
def test_engine_and_outputs_hold_their_invariants(events: list[tuple[str, str, LineKind]]) -> None:
    engine = Engine(REGISTRY)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [Line(1, start, LineKind.MESSAGE, "chair", "#startmeeting fuzz")]
    for n, (nick, body, kind) in enumerate(events, 2):
        lines.append(Line(n, start + timedelta(seconds=n), kind, nick, body))
    meeting = Meeting("test", "#fuzz")
    for line in lines:
        engine.apply(meeting, line)  # no exception may escape

    again = engine.replay(Meeting("test", "#fuzz"), lines)
    assert again.items == meeting.items
    assert again.chairs == meeting.chairs
    assert again.votes == meeting.votes
    assert again.attendees() == meeting.attendees()

    assert meeting.started_at is not None
    files = files_for(stem_for(meeting.name, meeting.started_at))
    assert ".." not in files["html"].split("/")
    outputs = render_all(build(meeting, 1, files, files),
                         [meeting.as_shown(line) for line in lines])
    for key in ("html", "log_html"):
        parser = _Collector()
        parser.feed(outputs[key])
        assert parser.tags <= TAGS, parser.tags - TAGS
        assert parser.attrs <= ATTRS, parser.attrs - ATTRS
        assert parser.scripts == [OUR_SCRIPT]  # ours, once; nothing else ever runs
        for href in parser.hrefs:
            scheme = href.split(":", 1)[0].lower() if ":" in href.split("/", 1)[0] else ""
            assert scheme in ("", "http", "https", "irc", "ircs", "ftp", "mailto"), href
    for output in outputs.values():
        output.encode("utf-8")  # valid UTF-8 out
