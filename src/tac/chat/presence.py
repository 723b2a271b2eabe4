"""Who is online in a room now, whichever instance their sockets are on.

Each instance marks the (room, user) pairs it holds sockets for, with an expiry it renews
every heartbeat. A crashed instance stops renewing, and its users drop off when their
marks expire: within presence_ttl_seconds plus one heartbeat. Two tabs on two instances
are two marks of one user: one person online.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass

from beanie import PydanticObjectId

from tac.bus import Bus
from tac.events import PRESENCE, Event
from tac.models import Membership, Room, User
from tac.stores.presence import PresenceStore

log = logging.getLogger(__name__)


class Presence:
    def __init__(
        self,
        store: PresenceStore,
        bus: Bus,
        instance: str,
        ttl: float,
        heartbeat: float,
        members_fresh_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.instance = instance
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.members_fresh_seconds = members_fresh_seconds
        self._local: Counter[tuple[str, str]] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def members_of(self, room: Room, online: set[str] | None = None) -> frozenset[str]:
        """The ids of the room's members, read at most once per members_fresh_seconds, or
        once a second while someone online is not among them (they may have just joined).

        Presence is recomputed on every wave of arrivals; asking the database which of N
        online people are members (`user $in [...]`) took the embedded server 23 s for
        2,000, and even reading a room's members by its index costs 0.1 ms each."""
        key = str(room.id)
        now = time.monotonic()
        cached = self._members.get(key)
        if cached is not None:
            age, members = now - cached[0], cached[1]
            strangers = online is not None and not online <= members
            if age < (1.0 if strangers else self.members_fresh_seconds):
                return members
        found = (
            await Membership.get_pymongo_collection()
            .find({"room": room.id}, {"user": True, "_id": False})
            .to_list()
        )
        members = frozenset(str(doc["user"]) for doc in found)
        self._members[key] = (now, members)
        return members

    def _member(self, user: str) -> str:
        return f"{user}/{self.instance}"

    async def online(self, room: str) -> set[str]:
        """The ids of the users online in `room`."""
        marks = await self.store.members(room, time.time())
        return {m.split("/", 1)[0] for m in marks}

    async def arrive(self, room: str, user: str) -> None:
        """Best effort: with the store away, the next heartbeat marks the user again.

        The change is announced without first reading who was online (that read costs
        the whole room's set, and a wave of N arrivals would cost N²): the hubs render
        one debounced update per room however many announcements come.
        """
        self._local[room, user] += 1
        if self._local[room, user] > 1:
            return
        try:
            await self.store.mark(room, self._member(user), time.time() + self.ttl)
        except Exception as e:
            log.warning("presence: marking %s in %s failed (%s)", user, room, e)
            return
        await self.bus.publish(Event(PRESENCE, room, user=user))

    async def leave(self, room: str, user: str) -> None:
        """Best effort: a mark left behind expires within the TTL."""
        self._local[room, user] -= 1
        if self._local[room, user] > 0:
            return
        del self._local[room, user]
        try:
            await self.store.unmark(room, self._member(user))
        except Exception as e:
            log.warning("presence: unmarking %s in %s failed (%s)", user, room, e)
            return
        await self.bus.publish(Event(PRESENCE, room, user=user))

    # -- heartbeat ------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._beat(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for room, user in list(self._local):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.store.unmark(room, self._member(user)), 1)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self.renew_and_sweep()
            except Exception as e:  # the store is away: try again next beat
                log.warning("presence: heartbeat failed (%s)", e)

    async def renew_and_sweep(self) -> None:
        now = time.time()
        rooms = {room for room, _ in self._local}
        for room, user in list(self._local):
            await self.store.mark(room, self._member(user), now + self.ttl)
        for room in rooms:
            if await self.store.sweep(room, now):
                await self.bus.publish(Event(PRESENCE, room))


@dataclass(frozen=True, slots=True)
class RoomPresence:
    room: Room
    member_count: int
    online: set[str]
    """Ids (as str) of the room's members online now (visitors are not members)."""
    shown: list[User]
    """Some of them, at most presence_list_max, by name: a room of 20,000 lists no 20,000."""
    visitors: int = 0
    """People reading the room (a public one) without being members: counted, not listed."""


async def room_presence(presence: Presence, room: Room, list_max: int) -> RoomPresence:
    here = await presence.online(str(room.id))
    members = await presence.members_of(room, here)
    online = here & members
    ids = [PydanticObjectId(i) for i in sorted(online)[:list_max]]
    shown = await User.find({"_id": {"$in": ids}}).sort(User.username_key).to_list()
    return RoomPresence(room, len(members), online, shown, visitors=len(here - online))


async def presence_of_room(presence: Presence, list_max: int, room_id: str) -> RoomPresence:
    """`room_presence` of the room with this id: what the hub pushes when presence changes."""
    room = await Room.get(PydanticObjectId(room_id))
    if room is None:
        raise LookupError(f"no room {room_id}")
    return await room_presence(presence, room, list_max)
