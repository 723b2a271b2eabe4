"""The text policy of chat/text.py, one rule per test; no database needed."""

from __future__ import annotations

import pytest

from tac.chat.errors import Invalid
from tac.chat.text import message_text, one_line, valid_unicode


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "\udbff\udc00"])
def test_lone_surrogates_are_refused_everywhere(text: str) -> None:
    with pytest.raises(Invalid, match="not valid Unicode"):
        valid_unicode(text, "body")
    with pytest.raises(Invalid, match="not valid Unicode"):
        message_text(text)
    with pytest.raises(Invalid, match="title is not valid Unicode") as refused:
        one_line(text, "title")
    assert refused.value.field == "title"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"])
def test_a_body_refuses_control_characters(char: str) -> None:
    with pytest.raises(Invalid, match=f"U\\+{ord(char):04X}"):
        message_text(f"a{char}b")


def test_a_body_keeps_tabs_and_line_breaks_and_bidi_controls() -> None:
    assert message_text("a\tb\r\nc\rd\ne") == "a\tb\nc\nd\ne"
    assert message_text("\u202eevil\u202c \u2067x\u2069") == "\u202eevil\u202c \u2067x\u2069"


@pytest.mark.parametrize(
    "char",
    ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x9f", "\u202a", "\u202e", "\u2066", "\u2069"],
)
def test_a_name_refuses_controls_and_bidi_overrides(char: str) -> None:
    with pytest.raises(Invalid, match=f"display name may not contain .*U\\+{ord(char):04X}"):
        one_line(f"Ann{char}e", "display_name")


def test_a_name_collapses_spaces_and_keeps_other_scripts() -> None:
    assert one_line("  Zoë \u00a0 שלום  ", "title") == "Zoë שלום"
