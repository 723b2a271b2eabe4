"""Jinja filters of Tac's own: how a message body is shown. Registered in both the page's
(asynchronous) environment and the hub's synchronous one (web/pushes.py)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from tac.models.message import MENTION


def linked_mentions(body: str) -> Markup:
    """The body escaped, each `@username` a link to the person (`@room` emphasised)."""
    if "@" not in body:
        return escape(body)
    out: list[str] = []
    last = 0
    for found in MENTION.finditer(body):
        name = found.group(1).rstrip(".-")
        start, end = found.start(), found.start() + 1 + len(name)
        out.append(escape(body[last:start]))
        key = name.lower()
        if key == "room":
            out.append(Markup('<b class="mention" data-mention="room">@room</b>'))
        else:
            out.append(
                Markup('<a class="mention" data-mention="{}" href="/users/{}">@{}</a>').format(
                    key, key, name
                )
            )
        last = end
    out.append(escape(body[last:]))
    return Markup("").join(out)


FILTERS: dict[str, Any] = {"mentions": linked_mentions}
