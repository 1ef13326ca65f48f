"""Recognising a command at the start of a line."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A URL at the start of a line is recorded as a link, as MeetBot does.
LINK_SCHEMES = ("http", "https", "irc", "ircs", "ftp", "mailto", "ssh")
_WORD = re.compile(r"([A-Za-z][A-Za-z0-9_-]*):?(?:\s+|$)")
# Mootbot's spelling, which meetingology kept: `[TOPIC] text` is `#topic text`.
_BRACKETED = re.compile(r"\[([A-Za-z][A-Za-z0-9_-]*)\](?:\s+|$)")
_URL_START = re.compile(rf"^(?:{'|'.join(LINK_SCHEMES)}):\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str  # lower case, without the prefix
    args: str  # stripped text after the command word and an optional colon


def parse_command(text: str, prefixes: tuple[str, ...]) -> ParsedCommand | None:
    """The command a line starts with, or None.

    The word must start with a letter and end at a space, a colon or the end of the
    line; it may hold '-' and '_' (`#decision-deadline`). `#1234` is never a command, and
    `#channel-name` is one only if a plugin declares it. `[WORD]` (Mootbot's brackets)
    is the same as the first prefix and WORD.
    """
    stripped = text.lstrip()
    bracketed = _BRACKETED.match(stripped)
    if bracketed:
        return ParsedCommand(bracketed.group(1).lower(), stripped[bracketed.end():].strip())
    for prefix in prefixes:
        if not stripped.startswith(prefix):
            continue
        match = _WORD.match(stripped, len(prefix))
        if match:
            rest = stripped[match.end():]
            return ParsedCommand(match.group(1).lower(), rest.strip())
    return None


def starts_with_url(text: str) -> bool:
    return bool(_URL_START.match(text.lstrip()))
