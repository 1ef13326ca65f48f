"""What reaches the IRC wire, and what is parsed from it."""

from __future__ import annotations

import pytest

from openminutes.chat.base import clean_text
from openminutes.chat.irclines import IRC_LINE_BYTES, privmsg_lines, sanitize, split_utf8
from openminutes.publish.links import segments


def test_cr_lf_nul_never_reach_the_wire() -> None:
    lines = privmsg_lines("#c", "a\r\nQUIT :pwned\nb\0c\rd")
    assert lines == ["PRIVMSG #c :a QUIT :pwned bc d"]
    assert all("\r" not in ln and "\n" not in ln and "\0" not in ln for ln in lines)


@pytest.mark.parametrize("text", ["x" * 2000, "é" * 700, "🎉" * 400, "word " * 300,
                                  ("a" * 399) + "é" * 50])
def test_long_replies_split_under_512_bytes_on_utf8_boundaries(text: str) -> None:
    reserve = 100
    lines = privmsg_lines("#channel", text, reserve)
    assert len(lines) > 1
    for line in lines:
        assert len(line.encode()) + 2 + reserve <= IRC_LINE_BYTES
        line.encode().decode("utf-8")  # whole characters only
    joined = "".join(ln.removeprefix("PRIVMSG #channel :") for ln in lines)
    assert joined.replace(" ", "") == sanitize(text).replace(" ", "")


def test_split_prefers_spaces() -> None:
    assert split_utf8("aaaa bbbb cccc", 10) == ["aaaa bbbb", "cccc"]
    assert split_utf8("", 10) == [""]


def test_formatting_codes_are_stripped() -> None:
    assert clean_text("\x02bold\x02 \x0304,12colour\x03 \x1ditalic\x1d \x0freset") == (
        "bold colour italic reset")
    assert clean_text("#\x02topic\x02 x") == "#topic x"


@pytest.mark.parametrize("text", ["javascript:alert(1)", "JaVaScRiPt:alert(1)",
                                  "java\tscript:alert(1)", "data:text/html,<b>x</b>",
                                  "vbscript:x", "http//no-colon"])
def test_only_safe_schemes_become_links(text: str) -> None:
    assert all(s.url is None for s in segments(text))


def test_links_keep_balanced_parentheses_and_drop_sentence_punctuation() -> None:
    urls = [s.url for s in segments("see (https://en.wikipedia.org/wiki/A_(b)), "
                                     "and https://x.org/y. or mailto:a@b.org!") if s.url]
    assert urls == ["https://en.wikipedia.org/wiki/A_(b)", "https://x.org/y", "mailto:a@b.org"]
