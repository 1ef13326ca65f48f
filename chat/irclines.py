"""Making outgoing IRC lines safe: no line breaks or NULs, and never over 512 bytes."""

from __future__ import annotations

IRC_LINE_BYTES = 512
# Room for ":nick!user@host " that the server prepends when relaying our message,
# used until we have seen our own hostmask.
DEFAULT_PREFIX_RESERVE = 1 + 30 + 1 + 10 + 1 + 63 + 1


def sanitize(text: str) -> str:
    """CR, LF and NUL must never reach the wire: they would end or corrupt the line."""
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\0", "")


def split_utf8(text: str, max_bytes: int) -> list[str]:
    """Split text into pieces of at most max_bytes UTF-8 bytes, at spaces where possible,
    never inside a character."""
    if max_bytes < 4:
        raise ValueError("max_bytes too small to hold a character")
    pieces: list[str] = []
    rest = text
    while len(rest.encode()) > max_bytes:
        cut = rest.encode()[:max_bytes].decode("utf-8", errors="ignore")
        space = cut.rfind(" ")
        if space > len(cut) // 2:
            cut = cut[:space]
        pieces.append(cut.rstrip())
        rest = rest[len(cut):].lstrip(" ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def privmsg_lines(target: str, text: str, prefix_reserve: int = DEFAULT_PREFIX_RESERVE,
                  command: str = "PRIVMSG") -> list[str]:
    """Raw lines (without CRLF) carrying text to target."""
    head = f"{command} {target} :"
    budget = IRC_LINE_BYTES - 2 - len(head.encode()) - prefix_reserve
    return [head + piece for piece in split_utf8(sanitize(text), budget)]
