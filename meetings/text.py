"""Text as it is stored, parsed and shown: one line, no controls, bidi contained. Pure."""

from __future__ import annotations

import re

# Bold, colour (mIRC and hex), italics, underline, strike, monospace, reverse, reset.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
# C0 controls but tab, DEL and the C1 range: none has a meaning inside a chat line.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x84\x86-\x9f]")
# Characters that end a line for str.splitlines(), browsers or editors, though not for
# MeetBot's writer: kept as a space, so no line can pose as several.
_SEPARATOR = re.compile(r"[\x85\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # cannot be written as UTF-8
# Bidi embeddings and overrides (closed by PDF) and isolates (closed by PDI).
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")
_ISOLATES = frozenset("\u2066\u2067\u2068")
_PDF, _PDI = "\u202c", "\u2069"


def _contain_bidi(text: str) -> str:
    """Close every bidi embedding, override and isolate the text leaves open, so that it
    cannot reorder what follows it on the same line (the nick, the next column)."""
    stack: list[str] = []
    for char in text:
        if char in _EMBEDDINGS:
            stack.append(_PDF)
        elif char in _ISOLATES:
            stack.append(_PDI)
        elif char == _PDF and stack and stack[-1] == _PDF:
            stack.pop()
        elif char == _PDI and _PDI in stack:
            # A PDI closes its isolate and every embedding opened inside it.
            while stack.pop() != _PDI:
                pass
    return text + "".join(reversed(stack))


def clean_text(text: str) -> str:
    """Text as it is parsed and rendered: formatting codes and control characters removed,
    line and paragraph separators made spaces, bidi controls closed at its end."""
    if text.isprintable():  # the usual case, checked in C
        return text
    cleaned = _SURROGATE.sub("\ufffd", _CONTROL.sub("", _SEPARATOR.sub(
        " ", _FORMATTING.sub("", text))))
    if any(c in _EMBEDDINGS or c in _ISOLATES for c in cleaned):
        cleaned = _contain_bidi(cleaned)
    return cleaned


def log_lines(text: str) -> list[str]:
    """A text log's lines, split only where MeetBot's writer ends one (LF, with or without
    CR), never at the other characters str.splitlines() takes for line ends."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
