"""What text Tac accepts: one policy for every channel (HTML form, socket, API).

- Every text must be valid Unicode. JSON can carry a lone surrogate ("\\ud800"), which can
  be neither stored nor shown: it is refused, not replaced, before anything is stored or
  numbered.
- A message body may hold line breaks and tabs (a browser's \\r\\n, and a lone \\r, become
  \\n); every other control character (C0 with NUL, DEL, C1) is refused. Bidi controls are
  allowed, since people write Arabic and Hebrew: the page isolates each body (tac.css), so an
  override cannot turn what surrounds it.
- A one-line text (username, display name, room title and topic, token name) holds no
  control character at all, not even a tab or a line break, and no bidi embedding, override
  or isolate (U+202A-U+202E, U+2066-U+2069): a name must read as it is stored.
- Lengths count code points, which is what is stored: a letter with ten thousand combining
  marks is ten thousand characters long, over every limit. Room titles and topics are
  counted as people see them (`seen_length`: a letter with its accents, an emoji with its
  skin tone, a flag, each once), under a cap of code points that still stops a flood.
"""

from __future__ import annotations

import re
import unicodedata

from tac.chat.errors import Invalid

BODY_REFUSED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters a message may not hold: every C0 but tab and line feed; DEL; C1."""
LINE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What a one-line text may not hold: every control character, and bidi overrides."""


def valid_unicode(text: str, field: str) -> str:
    """`text` unchanged when it can be encoded as UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"The {label(field)} is not valid Unicode.", field=field) from None
    return text


def message_text(text: str, field: str = "body") -> str:
    """A message body as stored: valid Unicode, line breaks as \\n, no other controls."""
    text = valid_unicode(text, field).replace("\r\n", "\n").replace("\r", "\n")
    if found := BODY_REFUSED.search(text):
        raise Invalid(
            f"A message may not contain the control character {codepoint(found.group())}.",
            field=field,
        )
    return text


def one_line(text: str, field: str) -> str:
    """A name or title: valid Unicode without controls or bidi overrides; spaces collapsed."""
    if found := LINE_REFUSED.search(valid_unicode(text, field)):
        raise Invalid(
            f"The {label(field)} may not contain the character {codepoint(found.group())}.",
            field=field,
        )
    return " ".join(text.split())


def label(field: str) -> str:
    return field.replace("_", " ")


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


CODE_POINTS_PER_SEEN = 4
"""A text counted by `seen_length` may hold at most this many code points per character
allowed: room for accents, skin tones and flags, not for ten thousand combining marks."""
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_REGIONAL = range(0x1F1E6, 0x1F200)
_TAGS = range(0xE0020, 0xE0080)
_VARIATION = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))


def seen_length(text: str) -> int:
    """How many characters a reader counts: a letter with its combining marks, an emoji with
    its skin tone, variation selector or the emoji joined to it by U+200D, a flag (two
    regional indicators), each counts once. An approximation of Unicode's grapheme
    clusters that needs no table (Hangul written as separate jamo counts each jamo)."""
    count = 0
    joined = open_flag = False
    for char in text:
        point = ord(char)
        if (
            unicodedata.category(char).startswith("M")
            or point in _SKIN_TONES
            or point in _TAGS
            or any(point in r for r in _VARIATION)
        ):
            continue
        if char == "\u200d":
            joined = True
            continue
        if joined:
            joined = False
            continue
        if point in _REGIONAL:
            open_flag = not open_flag
            if not open_flag:
                continue  # the second half of a flag
        else:
            open_flag = False
        count += 1
    return count


def within(text: str, most: int) -> bool:
    """At most `most` characters as people see them, and no flood of code points."""
    return seen_length(text) <= most and len(text) <= most * CODE_POINTS_PER_SEEN
