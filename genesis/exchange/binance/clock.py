"""Server clock offset from ``GET /api/v3/time`` round trips (P9).

Each sample is (local send time, server time, local receive time). The server
read the clock somewhere inside the round trip; assuming the middle gives
``offset = server - (send + receive) / 2`` with an error of at most half the
round trip. Of the samples of one sync, the one with the shortest round trip
is kept (its error bound is the smallest). At least 3 samples per sync.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["ClockSample", "ServerClock"]

_MS: Final = 1_000_000
DEGRADED_OFFSET_MS: Final = 500


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One ``/api/v3/time`` round trip: local ns before and after, server ms between."""

    sent_ns: int
    server_ms: int
    received_ns: int

    @property
    def rtt_ms(self) -> float:
        return (self.received_ns - self.sent_ns) / _MS

    @property
    def offset_ms(self) -> float:
        """Server time minus local time at the round trip's midpoint, in ms."""
        return self.server_ms - (self.sent_ns + self.received_ns) / 2 / _MS


class ServerClock:
    """Local wall clock corrected by the measured server offset.

    Args:
        wall_ns: the local wall clock in ns since the epoch (injected for tests).
        degraded_offset_ms: |offset| above this raises DEGRADED (default 500 ms).
    """

    def __init__(
        self, wall_ns: Callable[[], int], degraded_offset_ms: float = DEGRADED_OFFSET_MS
    ) -> None:
        self._wall_ns = wall_ns
        self._limit = degraded_offset_ms
        self.offset_ms = 0.0
        self.uncertainty_ms = float("inf")  # never measured
        self.syncs = 0

    def update(self, samples: Sequence[ClockSample]) -> float:
        """Adopt the offset of the shortest round trip among ``samples``; return it in ms.

        Raises:
            ValueError: fewer than 3 samples.
        """
        if len(samples) < 3:
            raise ValueError(f"clock sync needs >= 3 samples, got {len(samples)}")
        best = min(samples, key=lambda s: s.rtt_ms)
        self.offset_ms = best.offset_ms
        self.uncertainty_ms = best.rtt_ms / 2
        self.syncs += 1
        return self.offset_ms

    @property
    def degraded(self) -> bool:
        """True when the local clock is more than the limit away from the server's."""
        return abs(self.offset_ms) > self._limit

    def local_ns(self) -> int:
        """The uncorrected local wall clock in ns."""
        return self._wall_ns()

    def now_ms(self) -> int:
        """Estimated server time in ms (the value to sign as ``timestamp``)."""
        return int(self._wall_ns() / _MS + self.offset_ms)

    def to_server_ns(self, local_ns: int) -> int:
        """A local timestamp expressed on the server's clock."""
        return local_ns + int(self.offset_ms * _MS)
