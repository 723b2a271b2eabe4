"""Use cases: what a person can do in Tac. Knows no HTTP and no HTML."""

from __future__ import annotations

from dataclasses import dataclass

from tac.bus import Bus
from tac.chat.presence import Presence
from tac.settings import Settings
from tac.stores.ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class Chat:
    """What every use case may need: limits, the bus it publishes on, rate limiter, presence."""

    settings: Settings
    bus: Bus
    rate_limiter: RateLimiter
    presence: Presence
    login_limiter: RateLimiter
    """Counts sign-in attempts per username, so passwords cannot be guessed at speed."""
