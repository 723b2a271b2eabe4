"""Who is online in a room now, whichever instance their sockets are on.

Each instance marks the (room, user) pairs it holds sockets for, with an expiry it renews
every heartbeat. A crashed instance stops renewing, and its users drop off when their
marks expire: within presence_ttl_seconds plus one heartbeat. Two tabs on two instances
are two marks of one user: one person online.

A member is online when they are connected anywhere (a page of any room, an API stream),
not only when they have this room open: the same marks are kept under ONLINE too, and a
user's first socket and their last one announce the change in every room they are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from beanie import PydanticObjectId
from bson import ObjectId

from tac.bus import Bus
from tac.events import PRESENCE, Event
from tac.models import Membership, Room, User
from tac.stores.presence import PresenceStore

log = logging.getLogger(__name__)

MEMBERS_READ_EACH = 1_000
"""A room's members are read again every members_fresh_seconds per this many of them."""
USERS_KEPT = 10_000
"""Users whose last read `Presence.users` keeps (beyond it, it forgets them all)."""
ONLINE = "@online"
"""The marks of everyone connected anywhere (not a room id: those are ObjectIds)."""


class Presence:
    def __init__(
        self,
        store: PresenceStore,
        bus: Bus,
        instance: str,
        ttl: float,
        heartbeat: float,
        members_fresh_seconds: float = 5.0,
        online_fresh_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.instance = instance
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.members_fresh_seconds = members_fresh_seconds
        self.online_fresh_seconds = online_fresh_seconds
        self._anywhere: tuple[float, frozenset[str]] | None = None
        self._reading_anywhere: asyncio.Future[frozenset[str]] | None = None
        """The read of @online on its way: shared pushes wait for it, not read again."""
        self._local: Counter[tuple[str, str]] = Counter()
        self._users: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._members: dict[str, tuple[float, frozenset[str], frozenset[str]]] = {}
        """Per room: when its members were read, they, and who was online but not a member."""
        self._users_read: dict[str, tuple[float, User]] = {}
        self._rooms: dict[str, Room] = {}
        """Users listed lately, by id: when read, and the user."""

    async def members_of(self, room: Room, online: set[str] | None = None) -> frozenset[str]:
        """The ids of the room's members, read at most once per members_fresh_seconds;
        at once when someone online is not among them and was not at the last read (they
        may have just joined). Visitors, strangers at every read, change nothing.

        Presence is recomputed on every wave of arrivals; asking the database which of N
        online people are members (`user $in [...]`) took the embedded server 23 s for
        2,000, and even reading a room's members by its index costs 0.1 ms each."""
        key = str(room.id)
        now = time.monotonic()
        strangers: frozenset[str] = frozenset()
        cached = self._members.get(key)
        if cached is not None:
            read_at, members, known = cached
            strangers = frozenset(online - members) if online is not None else frozenset()
            # A stranger seen at the last read (a visitor) waits for the usual freshness;
            # a new one may have just joined: read again at once.
            # A large room's members are read less often, in proportion: reading 100,000
            # memberships costs the embedded server seconds (a joiner's own instance reads
            # again at once: `joined`; elsewhere a joiner with the room open is a stranger).
            fresh = self.members_fresh_seconds * max(1.0, len(members) / MEMBERS_READ_EACH)
            if strangers <= known and now - read_at < fresh:
                return members
        found = (
            await Membership.get_pymongo_collection()
            .find({"room": room.id}, {"user": True, "_id": False})
            .to_list()
        )
        members = frozenset(str(doc["user"]) for doc in found)
        known = frozenset(online - members) if online is not None else frozenset()
        self._members[key] = (now, members, known)
        return members

    async def users(self, ids: list[str], shared: bool = False) -> list[User]:
        """These users, by username. `shared` (the hub's pushes): a user read less than
        members_fresh_seconds ago will do (a name change shows within that), so a wave of
        updates in many rooms does not read the same people again and again."""
        if not ids:
            return []
        now = time.monotonic()
        fresh = self.members_fresh_seconds if shared else 0.0
        missing = [
            i for i in ids if i not in self._users_read or now - self._users_read[i][0] >= fresh
        ]
        if missing and len(self._users_read) + len(missing) > USERS_KEPT:
            self._users_read.clear()  # rare: start again rather than sort out the oldest
            missing = list(ids)
        if missing:
            wanted = [PydanticObjectId(i) for i in missing]
            for user in await User.find({"_id": {"$in": wanted}}).to_list():
                self._users_read[str(user.id)] = (now, user)
        found = [self._users_read[i][1] for i in ids if i in self._users_read]
        return sorted(found, key=lambda u: u.username_key)

    async def room(self, room_id: str) -> Room:
        """The room with this id, read once per instance: a push needs only its id, and
        rooms are not deleted."""
        room = self._rooms.get(room_id)
        if room is None:
            room = await Room.get(PydanticObjectId(room_id))
            if room is None:
                raise LookupError(f"no room {room_id}")
            self._rooms[room_id] = room
        return room

    async def joined(self, room: str, user: str) -> None:
        """A user joined `room`: its members are read again here, and every instance
        shows the new member."""
        self._members.pop(room, None)
        await self.bus.publish(Event(PRESENCE, room, user=user))

    def _member(self, user: str) -> str:
        return f"{user}/{self.instance}"

    async def online(self, room: str) -> set[str]:
        """The ids of the users online in `room`."""
        marks = await self.store.members(room, time.time())
        return {m.split("/", 1)[0] for m in marks}

    async def online_anywhere(self, shared: bool = False) -> set[str]:
        """The ids of the users connected anywhere. `shared` (the hub's pushes): a read at
        most online_fresh_seconds old will do. The set holds everyone online, and a wave of
        arrivals asks for it once per room update (N arrivals in R rooms: R x N reads of N
        marks); a page or an API answer reads it afresh."""
        now = time.monotonic()
        cached = self._anywhere
        if shared and cached is not None and now - cached[0] < self.online_fresh_seconds:
            return set(cached[1])
        if shared and self._reading_anywhere is not None:
            return set(await asyncio.shield(self._reading_anywhere))
        reading = self._reading_anywhere = asyncio.get_running_loop().create_future()
        try:
            found = await self.online(ONLINE)
        except BaseException as e:
            if isinstance(e, Exception):
                reading.set_exception(e)
                reading.exception()  # retrieved: the sharers may all be gone
            else:
                reading.cancel()
            raise
        else:
            self._anywhere = (now, frozenset(found))
            reading.set_result(self._anywhere[1])
            return found
        finally:
            if self._reading_anywhere is reading:
                self._reading_anywhere = None

    async def arrive(self, room: str, user: str) -> None:
        """Best effort: with the store away, the next heartbeat marks the user again.

        The change is announced without first reading who was online (that read costs
        the whole room's set, and a wave of N arrivals would cost N²): the hubs render
        one debounced update per room however many announcements come.
        """
        self._local[room, user] += 1
        self._users[user] += 1
        if self._users[user] == 1:
            await self._mark_and_announce(ONLINE, user, room)
        if self._local[room, user] == 1:
            await self._mark_and_announce(room, user)

    async def leave(self, room: str, user: str) -> None:
        """Best effort: a mark left behind expires within the TTL. A user's last socket
        takes their @online mark first, so that no room reads them online after its own
        announcement."""
        self._local[room, user] -= 1
        self._users[user] -= 1
        gone = self._users[user] <= 0
        if gone:
            del self._users[user]
            await self._unmark(ONLINE, user)
        if self._local[room, user] <= 0:
            del self._local[room, user]
            if await self._unmark(room, user):
                await self._announce(room, user, room)
        if gone:
            await self._announce(ONLINE, user, room)

    async def _mark_and_announce(self, key: str, user: str, room: str = "") -> None:
        try:
            await self.store.mark(key, self._member(user), time.time() + self.ttl)
        except Exception as e:
            log.warning("presence: marking %s in %s failed (%s)", user, key, e)
            return
        await self._announce(key, user, room)

    async def _unmark(self, key: str, user: str) -> bool:
        try:
            await self.store.unmark(key, self._member(user))
        except Exception as e:
            log.warning("presence: unmarking %s in %s failed (%s)", user, key, e)
            return False
        return True

    async def _announce(self, key: str, user: str, room: str) -> None:
        """A room's change in that room; coming online or going offline in every room of
        the user's but `room` (which announces its own)."""
        if key != ONLINE:
            await self.bus.publish(Event(PRESENCE, key, user=user))
            return
        if not ObjectId.is_valid(user):
            return
        try:
            theirs = (
                await Membership.get_pymongo_collection()
                .find({"user": PydanticObjectId(user)}, {"room": True, "_id": False})
                .to_list()
            )
        except Exception as e:
            log.warning("presence: reading the rooms of %s failed (%s)", user, e)
            return
        for doc in theirs:
            if str(doc["room"]) != room:
                await self.bus.publish(Event(PRESENCE, str(doc["room"]), user=user))

    # -- heartbeat ------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._beat(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for room, user in [*self._local, *((ONLINE, user) for user in self._users)]:
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
        for user in list(self._users):
            await self.store.mark(ONLINE, self._member(user), now + self.ttl)
        # Someone gone offline with their instance: every room open here shows it.
        offline = await self.store.sweep(ONLINE, now)
        for room in rooms:
            if await self.store.sweep(room, now) or offline:
                await self.bus.publish(Event(PRESENCE, room))


@dataclass(frozen=True, slots=True)
class RoomPresence:
    room: Room
    member_count: int
    online: set[str]
    """Ids (as str) of the room's members online now, anywhere (visitors are not members)."""
    shown: list[User]
    """Some of them, at most presence_list_max, by name: a room of 20,000 lists no 20,000."""
    visitors: int = 0
    """People reading the room (a public one) without being members: counted, not listed."""
    offline: list[User] = field(default_factory=list)
    """Members not online, listed after those online while the list has room."""


async def room_presence(
    presence: Presence,
    room: Room,
    list_max: int,
    viewer: str | None = None,
    *,
    shared: bool = False,
) -> RoomPresence:
    """Who of the room's members is online, online ones listed first. `viewer`, who is
    reading the page being rendered, counts as here: their socket is not open yet.
    `shared`: for a push, which may share a recent read of who is online anywhere."""
    here = await presence.online(str(room.id))
    anywhere = await presence.online_anywhere(shared)
    if viewer is not None:
        here.add(viewer)
    # Someone with the room open who is not among the members read may have just joined:
    # the members are read again (at most once a second), so a new member shows within a
    # second. Only those here: everyone online elsewhere would make every room a stranger's.
    members = await presence.members_of(room, here)
    online = (here | anywhere) & members
    online_ids = sorted(online)[:list_max]
    offline_ids = sorted(members - online)[: max(0, list_max - len(online_ids))]
    return RoomPresence(
        room,
        len(members),
        online,
        await presence.users(online_ids, shared),
        visitors=len(here - members),
        offline=await presence.users(offline_ids, shared),
    )


async def presence_of_room(presence: Presence, list_max: int, room_id: str) -> RoomPresence:
    """`room_presence` of the room with this id: what the hub pushes when presence changes."""
    room = await presence.room(room_id)
    return await room_presence(presence, room, list_max, shared=True)
