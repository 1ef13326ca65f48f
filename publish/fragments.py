"""Rendered pieces of a meeting's outputs (a log row, an item), made once and reused.

A long meeting's log is most of its output. Its lines never change once said, so their
rendered rows are kept and rendered ahead, while the meeting is quiet; publishing then
only assembles them. Cold (`render`) and warm paths call the same functions, so the
output is the same either way.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from typing import Any

from markupsafe import Markup

from meetings.model import Item, ItemKind, Line
from publish.viewmodel import iso


def wrap(text: str, first: str, rest: str) -> str:
    # MeetBot's text minutes: 72 columns, URLs never broken.
    return textwrap.fill(text, width=72, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False) or first.rstrip()


def hms(t: datetime) -> str:
    """HH:MM:SS, as MeetBot shows times (faster than strftime, which matters per line)."""
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


class Fragments:
    def __init__(self, html_macros: Any, md_item: Callable[[Item, str], str],
                 log_text: Callable[[Line], str]) -> None:
        self._html = html_macros
        self._md_item = md_item
        self._log_text = log_text
        self._cache: dict[Hashable, Any] = {}
        self.warmed_lines = 0  # lines are only ever appended: warm the next ones next time

    def _get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = make()
            return value

    def log_row(self, line: Line) -> Markup:
        result: Markup = self._get(("row", line), lambda: self._html.log_row(line))
        return result

    def log_txt(self, line: Line) -> str:
        result: str = self._get(("txt", line), lambda: self._log_text(line))
        return result

    def log_rows(self, lines: Iterable[Line]) -> Markup:
        """All rows of the HTML log, joined here: one template call instead of one per line."""
        # Every row is Markup already; joining as str skips re-checking each one.
        return Markup("\n".join([self.log_row(line) for line in lines]))  # noqa: S704

    def log_texts(self, lines: Iterable[Line]) -> str:
        return "".join(f"{self.log_txt(line)}\n" for line in lines)

    def log_json(self, line: Line) -> str:
        """A log entry as JSON text (see README's schema)."""

        def make() -> str:
            entry = {"line": line.seq, "time": iso(line.time), "nick": line.nick,
                     "kind": line.kind.value, "text": line.text}
            if line.identity:
                entry["account"] = line.identity
            if line.edited:
                entry["edited"] = True
            return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))

        result: str = self._get(("json", line), make)
        return result

    def item_html(self, item: Item, log_name: str) -> Markup:
        macro = self._html.topic if item.kind is ItemKind.TOPIC else self._html.item
        result: Markup = self._get(("html", item, log_name), lambda: macro(item, log_name))
        return result

    def item_txt(self, item: Item, first: str, rest: str) -> str:
        def make() -> str:
            label = "" if item.kind in (ItemKind.INFO, ItemKind.TOPIC) else f"{item.kind.label}: "
            return wrap(f"{label}{item.text}  ({item.nick}, {hms(item.time)})", first, rest)

        result: str = self._get(("itxt", item, first, rest), make)
        return result

    def item_md(self, item: Item, log_name: str) -> str:
        result: str = self._get(("md", item, log_name), lambda: self._md_item(item, log_name))
        return result

    def warmed_items(self, items: Iterable[Item], log_name: str) -> bool:
        return all(("html", item, log_name) in self._cache for item in items)

    def warm(self, lines: Iterable[Line], items: Iterable[Item], log_name: str) -> None:
        """Render ahead what publishing will need."""
        for line in lines:
            self.log_row(line)
            self.log_txt(line)
            self.log_json(line)
            self.warmed_lines += 1
        for item in items:
            self.item_html(item, log_name)
            self.item_md(item, log_name)
            if item.kind is ItemKind.TOPIC:
                self.item_txt(item, "* ", "  ")
            else:
                self.item_txt(item, "  * ", "    ")
                self.item_txt(item, "* ", "  ")
