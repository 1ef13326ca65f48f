"""Rendering a MinutesView through the Jinja2 templates."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from openminutes.meetings.model import Line, LineKind
from openminutes.meetings.nicks import fold
from openminutes.meetings.text import clean_text
from openminutes.publish.fragments import Fragments, hms, wrap
from openminutes.publish.links import segments
from openminutes.publish.viewmodel import MinutesView, iso

# The templates are package data of openminutes (in the repository: ./templates).
TEMPLATES = Path(str(resources.files("openminutes") / "templates"))
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_HTML_SPECIAL = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;"})


def _md(text: str) -> str:
    """Markdown-escape, and neutralise raw HTML that Markdown renderers pass through."""
    return _MD_SPECIAL.sub(r"\\\1", text.translate(_HTML_SPECIAL))


def _mdrich(text: str) -> str:
    return "".join(f"<{s.url}>" if s.url else _md(s.text) for s in segments(text))


@dataclass(frozen=True, slots=True)
class _Part:
    text: str
    marked: bool


def _marked(snippet: str) -> list[_Part]:
    """A search snippet split at its highlight markers (see storage.search)."""
    parts: list[_Part] = []
    for n, piece in enumerate(re.split("[\x02\x03]", snippet)):
        if piece:
            parts.append(_Part(piece, n % 2 == 1))
    return parts


def event_text(line: Line) -> str:
    """How a join, part, quit, nick change or gap reads in a log."""
    reason = f" ({line.text})" if line.text else ""
    match line.kind:
        case LineKind.JOIN:
            return f"{line.nick} has joined"
        case LineKind.PART:
            return f"{line.nick} has left{reason}"
        case LineKind.QUIT:
            return f"{line.nick} has quit{reason}"
        case LineKind.NICK:
            return f"{line.nick} is now known as {line.text}"
        case LineKind.TOPIC:
            return f"{line.nick} changed the channel topic to: {line.text}"
        case LineKind.EDIT:
            return f"{line.nick} edited a message"
        case LineKind.REDACTION:
            return f"{line.nick} removed a message"
        case LineKind.REDACTED:  # text: the reason an operator gave (openminutes amend)
            return f"(removed: {line.text})" if line.text else "(message removed)"
        case _:
            return line.text


def log_text(line: Line) -> str:
    """MeetBot's text log layout: `HH:MM:SS <nick> text`."""
    t = hms(line.time)
    # Lines are cleaned when received; cleaned again here (nearly free) so that a line
    # stored by an older version can never pose as several in a file read line by line.
    if not (line.text.isprintable() and line.nick.isprintable()):
        line = line._replace(nick=clean_text(line.nick), text=clean_text(line.text))
    text = f"{line.text} (edited)" if line.edited else line.text
    if line.kind is LineKind.MESSAGE:
        return f"{t} <{line.nick}> {text}"
    if line.kind is LineKind.ACTION:
        return f"{t} * {line.nick} {text}"
    if line.kind is LineKind.NOTICE:
        return f"{t} -{line.nick}- {text}"
    return f"{t} *** {event_text(line)}"


def _ymd(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "atom.j2"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters.update(
        segments=segments, wrap=wrap, md=_md, mdrich=_mdrich, hms=hms, ymd=_ymd, iso=iso,
        hm=lambda t: f"{t.hour:02d}:{t.minute:02d}",
        marked=_marked,
        event_text=event_text, log_text=log_text,
        basename=lambda p: PurePosixPath(p).name,
        has_url=lambda t: "://" in t or "mailto:" in t.lower(),
        nick_colour=nick_colour,
    )
    return env


NICK_COLOURS = 12  # classes .n0 ... .n11 in style.css, light and dark


def nick_colour(line: Line) -> str:
    """The class that colours a person's nick: a stable hash of who they are (their
    account where known, else their nick), the same on every page and every render."""
    who = line.identity or fold(line.nick)
    return f"n{zlib.crc32(who.encode()) % NICK_COLOURS}"


def css_hash() -> str:
    """The CSP hash of the stylesheet every page inlines."""
    digest = hashlib.sha256(str(_css()).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def _css() -> Markup:
    # Our own file, inserted into <style> where escaping would break it.
    return Markup((TEMPLATES / "style.css").read_text(encoding="utf-8"))  # noqa: S704


PAGES = ("minutes.html.j2", "minutes.txt.j2", "minutes.md.j2", "log.html.j2", "log.txt.j2")


def preload() -> None:
    """Compile every template now, so the first #endmeeting does not pay for it."""
    env = environment()
    for name in (*PAGES, "fragments.html.j2", "fragments.md.j2", "decisions.html.j2",
                 "archive_index.html.j2", "archive_series.html.j2", "archive_year.html.j2",
                 "archive_latest.html.j2", "feed.atom.j2", "amendments.atom.j2",
                 "search.html.j2"):
        env.get_template(name)
    _css()


def render_page(template: str, **context: Any) -> str:
    """An archive page or feed (see publish.archive)."""
    return environment().get_template(template).render(css=_css(), **context)


def new_fragments() -> Fragments:
    """A cache of rendered items for one meeting (see publish.fragments)."""
    env = environment()
    md = env.get_template("fragments.md.j2").module
    return Fragments(env.get_template("fragments.html.j2").module, md.item)  # type: ignore[attr-defined]


MINUTES = {"html": PAGES[0], "txt": PAGES[1], "md": PAGES[2]}
LOG_OUTPUTS = ("log_html", "log_txt", "json")


def render_minutes(view: MinutesView, fragments: Fragments | None = None) -> dict[str, str]:
    """The outputs without the log, keyed as in viewmodel.EXTENSIONS."""
    env = environment()
    ctx = {"m": view, "css": _css(), "frag": fragments or new_fragments(),
           "log_name": PurePosixPath(view.files["log_html"]).name}
    return {key: env.get_template(name).render(ctx) for key, name in MINUTES.items()}


def _log_entry(line: Line) -> dict[str, object]:
    """A log entry of the JSON minutes (see README's schema)."""
    entry: dict[str, object] = {"line": line.seq, "time": iso(line.time), "nick": line.nick,
                                "kind": line.kind.value, "text": line.text}
    if line.identity:
        entry["account"] = line.identity
    if line.edited:
        entry["edited"] = True
    return entry


def log_chunk(lines: Sequence[Line], *, first: bool) -> dict[str, str]:
    """The next lines of the outputs that hold the log, as shown (corrections applied by
    the caller); `first`: no chunk came before."""
    if not lines:
        return {}
    rows = environment().get_template("fragments.html.j2").module.log_rows  # type: ignore[attr-defined]
    return {"log_html": ("" if first else "\n") + str(rows(lines)),
            "log_txt": "".join([f"{log_text(line)}\n" for line in lines]),
            # One encoder call per chunk, its brackets dropped.
            "json": ("" if first else ",") + json.dumps(
                [_log_entry(line) for line in lines], ensure_ascii=False,
                separators=(",", ":"))[1:-1]}


class LogOutputs:
    """The outputs that hold the whole log (the HTML and text logs, and the JSON minutes,
    which end with it) are written a chunk of lines at a time, so that a long meeting's
    log is never one string in memory: head(), then log_chunk() for each chunk, tail()."""

    def __init__(self, view: MinutesView) -> None:
        env = environment()
        # Where the rows go: a token no text of the meeting can spell.
        mark = secrets.token_hex(16)
        ctx = {"m": view, "css": _css(), "rows": Markup(mark)}  # noqa: S704
        self._around: dict[str, list[str]] = {
            "log_html": env.get_template(PAGES[3]).render(ctx).split(mark),
            "log_txt": env.get_template(PAGES[4]).render(ctx).split(mark),
        }
        # Compact JSON: the indenting encoder is pure Python and several times slower.
        head = json.dumps(view.to_json(), ensure_ascii=False, separators=(",", ":"))
        self._around["json"] = [f'{head[:-1]},"log":[', "]}\n"]
        assert all(len(parts) == 2 for parts in self._around.values())

    def head(self) -> dict[str, str]:
        return {key: parts[0] for key, parts in self._around.items()}

    def tail(self) -> dict[str, str]:
        return {key: parts[1] for key, parts in self._around.items()}


def render_all(view: MinutesView, log: Sequence[Line],
               fragments: Fragments | None = None) -> dict[str, str]:
    """Every output of a meeting in memory, keyed as in viewmodel.EXTENSIONS (`log`: its
    lines as shown). Publishing streams the log instead (see LogOutputs)."""
    outputs = render_minutes(view, fragments)
    pieces = LogOutputs(view)
    parts = [pieces.head(), log_chunk(log, first=True), pieces.tail()]
    for key in LOG_OUTPUTS:
        outputs[key] = "".join(part.get(key, "") for part in parts)
    return outputs
