"""Typed identifiers and the deterministic id generator (no uuid4, ever)."""

from __future__ import annotations

from typing import NewType

__all__ = [
    "ClientOrderId",
    "CorrelationId",
    "IdGenerator",
    "StrategyId",
    "TradeId",
    "VenueOrderId",
]

ClientOrderId = NewType("ClientOrderId", str)
VenueOrderId = NewType("VenueOrderId", str)
TradeId = NewType("TradeId", str)
StrategyId = NewType("StrategyId", str)
CorrelationId = NewType("CorrelationId", str)


class IdGenerator:
    """Ids as a pure function of (prefix, clock time, counter).

    Two runs that see the same clock produce the same ids, so a backtest is
    reproducible byte for byte and a replayed session names orders identically.
    """

    __slots__ = ("_prefix", "_seq")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._seq = 0

    def next(self, ts_ns: int) -> str:
        """Return ``<prefix>-<ts_ns>-<seq>``; ``seq`` never repeats within this generator."""
        self._seq += 1
        return f"{self._prefix}-{ts_ns}-{self._seq}"

    @property
    def count(self) -> int:
        return self._seq

    def restore(self, count: int) -> None:
        """Continue numbering after ``count`` ids (after a restart)."""
        self._seq = max(self._seq, count)
