"""Splitting text into plain parts and URLs that are safe to link."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Only these schemes ever become links; javascript:, data: and the rest stay text.
_URL = re.compile(r"(?:(?:https?|ircs?|ftp)://|mailto:)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>"


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    url: str | None = None


def _trim(url: str) -> str:
    """Drop punctuation that ends a sentence rather than the URL; keep balanced parentheses."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def segments(text: str) -> list[Segment]:
    parts: list[Segment] = []
    pos = 0
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        if not url or url.endswith("://") or url.lower() == "mailto:":
            continue
        start = match.start()
        if start > pos:
            parts.append(Segment(text[pos:start]))
        parts.append(Segment(url, url))
        pos = start + len(url)
    if pos < len(text):
        parts.append(Segment(text[pos:]))
    return parts
