"""Nick comparison and finding the people an action item names."""

from __future__ import annotations

import re
from collections.abc import Iterable

# RFC 1459 casemapping: []\~ are the upper case of {}|^.
_RFC1459 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")

# Characters that may appear inside an IRC nick; a name only matches when it is
# not glued to more of them, so "bob" does not match inside "bobby" or "bob|away".
_NICK_CHARS = r"\w\[\]\\`^{}|\-"
_BRIDGE_SUFFIX = "[m]"


def fold(nick: str) -> str:
    """The form two nicks are compared in."""
    return nick.translate(_RFC1459)


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![{_NICK_CHARS}]){re.escape(name)}(?![{_NICK_CHARS}])")


def owners_of(text: str, known: Iterable[str]) -> list[str]:
    """Known nicks named in text, in the order given, matched case-insensitively.

    A Matrix bridge user `alice[m]` is also found by `alice` unless someone else
    is known by that bare name.
    """
    names = list(dict.fromkeys(known))
    folded = {fold(n) for n in names}
    found: list[str] = []
    for name in names:
        candidates = [name]
        if fold(name).endswith(fold(_BRIDGE_SUFFIX)):
            bare = name[: -len(_BRIDGE_SUFFIX)]
            if bare and fold(bare) not in folded:
                candidates.append(bare)
        if any(_pattern(fold(c)).search(fold(text)) for c in candidates):
            found.append(name)
    return found
