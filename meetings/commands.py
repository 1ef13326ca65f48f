"""Recognising a command at the start of a line."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A URL at the start of a line is recorded as a link, as MeetBot does.
LINK_SCHEMES = ("http", "https", "irc", "ircs", "ftp", "mailto")
_URL_START = re.compile(rf"^(?:{'|'.join(LINK_SCHEMES)}):\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str  # lower case, without the prefix
    args: str  # stripped text after the command word and an optional colon


def parse_command(text: str, prefixes: tuple[str, ...]) -> ParsedCommand | None:
    """The command a line starts with, or None.

    `#1234` and `#channel-name` are not commands: the word must start with a
    letter and end at a space, a colon or the end of the line.
    """
    stripped = text.lstrip()
    for prefix in prefixes:
        if not stripped.startswith(prefix):
            continue
        match = re.match(r"([A-Za-z][A-Za-z0-9_]*):?(?:\s+|$)", stripped[len(prefix) :])
        if match:
            rest = stripped[len(prefix) + match.end() :]
            return ParsedCommand(match.group(1).lower(), rest.strip())
    return None


def starts_with_url(text: str) -> bool:
    return bool(_URL_START.match(text.lstrip()))
