"""The order of one room's messages as this instance delivered them: duplicates and gaps."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RoomOrder:
    """The seqs of one room this instance has delivered (the last `keep` of them)."""

    top: int
    """The highest seq delivered (or the room's newest when the instance subscribed)."""
    keep: int = 4096
    seen: set[int] = field(default_factory=set)
    order: deque[int] = field(default_factory=deque)

    def accept(self, seq: int) -> tuple[int, int] | None:
        """Record `seq` as delivered. Returns the seqs it skipped over (low, high), if any.

        Call only for a seq not `delivered` yet."""
        gap = (self.top + 1, seq - 1) if seq > self.top + 1 else None
        self.top = max(self.top, seq)
        self.seen.add(seq)
        self.order.append(seq)
        if len(self.order) > self.keep:
            self.seen.discard(self.order.popleft())
        return gap

    def delivered(self, seq: int) -> bool:
        return seq in self.seen

    def missing(self, low: int, high: int) -> list[int]:
        """The seqs of low..high not delivered yet."""
        return [seq for seq in range(low, high + 1) if seq not in self.seen]
