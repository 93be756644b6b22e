"""Capped exponential backoff with full jitter, seeded (no ambient randomness, R3)."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays ``uniform(initial, min(cap, initial * 2**n))`` for the n-th consecutive failure.

    The lower bound keeps reconnect storms from hammering the venue (R9: never
    more than 300 connects per 5 min); the jitter spreads many clients apart.
    """

    def __init__(self, initial_s: float = 1.0, max_s: float = 60.0, seed: int = 0) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s}, {max_s}")
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not cryptography
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (counts one more failure)."""
        ceiling = min(self.max_s, self.initial_s * 2.0**self.failures)
        self.failures += 1
        return self._rng.uniform(self.initial_s, ceiling)

    def reset(self) -> None:
        """Forget the failures after a connection proved healthy."""
        self.failures = 0
