"""Rendered items of a meeting's minutes, made once and reused.

Each item appears in several places of several outputs; they are rendered once, and
rendered ahead while the meeting is quiet, so publishing only assembles them. Cold and
warm paths call the same functions, so the output is the same either way. (The log is
not kept here: it is streamed from storage when published; see publish.render.)
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from typing import Any

from markupsafe import Markup

from openminutes.meetings.model import Item, ItemKind


def wrap(text: str, first: str, rest: str) -> str:
    # MeetBot's text minutes: 72 columns, URLs never broken.
    return textwrap.fill(text, width=72, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False) or first.rstrip()


def hms(t: datetime) -> str:
    """HH:MM:SS, as MeetBot shows times (faster than strftime, which matters per line)."""
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


class Fragments:
    def __init__(self, html_macros: Any, md_item: Callable[[Item, str], str]) -> None:
        self._html = html_macros
        self._md_item = md_item
        self._cache: dict[Hashable, Any] = {}

    def _get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = make()
            return value

    def item_html(self, item: Item, log_name: str) -> Markup:
        macro = self._html.topic if item.kind == ItemKind.TOPIC else self._html.item
        result: Markup = self._get(("html", item, log_name), lambda: macro(item, log_name))
        return result

    def item_txt(self, item: Item, first: str, rest: str) -> str:
        def make() -> str:
            label = f"{item.kind.label}: " if item.kind.labelled else ""
            return wrap(f"{label}{item.text}  ({item.nick}, {hms(item.time)})", first, rest)

        result: str = self._get(("itxt", item, first, rest), make)
        return result

    def item_md(self, item: Item, log_name: str) -> str:
        result: str = self._get(("md", item, log_name), lambda: self._md_item(item, log_name))
        return result

    def unwarmed(self, items: Iterable[Item], log_name: str) -> list[Item]:
        return [item for item in items if ("html", item, log_name) not in self._cache]

    def warm(self, items: Iterable[Item], log_name: str) -> None:
        """Render ahead what publishing will need."""
        for item in items:
            self.item_html(item, log_name)
            self.item_md(item, log_name)
            if item.kind == ItemKind.TOPIC:
                self.item_txt(item, "* ", "  ")
            else:
                self.item_txt(item, "  * ", "    ")
                self.item_txt(item, "* ", "  ")
