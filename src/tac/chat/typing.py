""" "alice is typing…": announced to the room, throttled, never stored; it expires by itself."""

from __future__ import annotations

import time

from tac.chat import Chat
from tac.events import typing
from tac.models import Room, User

_SWEEP_AT = 10_000


async def user_typing(chat: Chat, user: User, room: Room) -> bool:
    """Announce that `user` is typing in `room` (a member: the caller checked), at most once
    per typing_throttle_seconds; True when announced. Every instance's hub shows it to the
    room's viewers and forgets it after typing_expire_seconds."""
    key = (str(user.id), str(room.id))
    now = time.monotonic()
    throttle = chat.settings.typing_throttle_seconds
    sent = chat.typing_sent
    if now - sent.get(key, -throttle) < throttle:
        return False
    if len(sent) >= _SWEEP_AT:  # forget the typists of long ago
        for old in [k for k, t in sent.items() if now - t >= throttle]:
            del sent[old]
    sent[key] = now
    await chat.bus.publish(typing(str(room.id), str(user.id), user.display_name))
    return True


def stopped_typing(chat: Chat, user: User, room: Room) -> None:
    """`user` posted in `room`: the hubs stop showing them typing when the message arrives,
    and their next keystroke there is announced at once."""
    chat.typing_sent.pop((str(user.id), str(room.id)), None)
