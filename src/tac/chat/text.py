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
  marks is ten thousand characters long, over every limit.
"""

from __future__ import annotations

import re

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
