"""Use cases: what a person can do in Tac. Knows no HTTP and no HTML."""

from __future__ import annotations

from dataclasses import dataclass, field

from tac.bus import Bus
from tac.chat.presence import Presence
from tac.chat.writer import MessageWriter
from tac.settings import Settings
from tac.stores.ratelimit import RateLimiter
from tac.stores.seq import SeqCounter


@dataclass(frozen=True, slots=True)
class Chat:
    """What every use case may need: limits, the bus it publishes on, rate limiter, presence,
    the rooms' counters and the message writer."""

    settings: Settings
    bus: Bus
    rate_limiter: RateLimiter
    presence: Presence
    login_limiter: RateLimiter
    """Counts sign-in attempts per (username, address): one guesser is slowed down without
    locking out the account's owner, who signs in from elsewhere."""
    login_address_limiter: RateLimiter
    """Counts sign-in attempts per address, whatever the usernames."""
    login_username_limiter: RateLimiter
    """A high ceiling of attempts per username from all addresses together."""
    seqs: SeqCounter
    """Each room's next seq (in Redis when there is one)."""
    writer: MessageWriter
    """Stores posts in batches and publishes them."""
    typing_sent: dict[tuple[str, str], float] = field(default_factory=dict)
    """(user id, room id) -> when this instance last announced the user typing there."""
