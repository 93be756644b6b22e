"""Avellaneda-Stoikov quoting maths for the market maker (SPEC ST-X4), in floats.

Analytics, not money: the model's reservation price and spread, the mid's variance
per second and the trades' mean distance from the mid. The strategy
(``strategies/strategist/market_maker.py``) rounds what comes out to the instrument's
ticks with exact decimals. Plain float code: compiled with the kernel by
``genesis native build``, as the model runs at every quoting step.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["ASQuote", "MidVariance", "TradeDepth", "avellaneda_stoikov"]

_NS_PER_S = 1_000_000_000


class ASQuote(NamedTuple):
    """One evaluation of the model, in quote currency (floats: analytics); a tuple, as
    the model is evaluated at every step."""

    reservation: float
    spread: float  # delta: ask - bid before rounding
    bid: float
    ask: float


def avellaneda_stoikov(
    mid: float,
    q: float,
    sigma2: float,
    *,
    gamma: float,
    k: float,
    tau: float,
    q_max: float,
    widening: float = 0.0,
) -> ASQuote:
    """The rolling-horizon A-S quotes around ``mid`` for inventory ``q`` (lots, signed).

    Args:
        mid: the book's mid (quote currency).
        q: inventory minus its target, in lots.
        sigma2: the mid's variance per second (quote currency squared).
        gamma: risk aversion (1 / quote currency per lot), > 0.
        k: order-arrival decay with depth (1 / quote currency), > 0.
        tau: the horizon ``T - t`` in seconds.
        q_max: the largest |q| the bounds allow (lots), > 0.
        widening: the spread grows by this fraction of itself at ``|q| = q_max``.

    Returns:
        Reservation price, spread and the two unrounded quotes.
    """
    risk = gamma * sigma2 * tau
    reservation = mid - q * risk
    spread = (risk + 2.0 / gamma * math.log1p(gamma / k)) * (1.0 + widening * abs(q) / q_max)
    return ASQuote(reservation, spread, reservation - spread / 2, reservation + spread / 2)


class MidVariance:
    """EWMA of squared log returns of the mid per second of event time."""

    __slots__ = ("alpha", "count", "prev_mid", "prev_ns", "rate", "warmup")

    def __init__(self, span: int, warmup: int) -> None:
        self.alpha = 2.0 / (span + 1.0)
        self.warmup = warmup
        self.prev_mid: float | None = None
        self.prev_ns = 0
        self.rate = 0.0  # variance of log returns per second
        self.count = 0

    def update(self, mid: float, now_ns: int) -> None:
        prev, dt_ns = self.prev_mid, now_ns - self.prev_ns
        if prev is not None and dt_ns <= 0:
            return  # two steps at one instant: no time passed, nothing to learn
        self.prev_mid, self.prev_ns = mid, now_ns
        if prev is None:
            return
        r = math.log(mid / prev)
        self.rate += self.alpha * (r * r * _NS_PER_S / dt_ns - self.rate)
        self.count += 1

    def sigma2(self, mid: float) -> float | None:
        """The mid's variance per second in price units, or None while warming up."""
        return self.rate * mid * mid if self.count >= self.warmup else None


class TradeDepth:
    """EWMA of how far from the mid trades print; ``k = 1 / mean``."""

    __slots__ = ("alpha", "count", "mean", "warmup")

    def __init__(self, span: int, warmup: int) -> None:
        self.alpha = 2.0 / (span + 1.0)
        self.warmup = warmup
        self.mean = 0.0
        self.count = 0

    def update(self, depth: float) -> None:
        self.count += 1
        # the first trade seeds the mean; later ones decay into it
        self.mean += (1.0 if self.count == 1 else self.alpha) * (depth - self.mean)

    def k(self, floor_depth: float) -> float | None:
        """``1 / mean depth`` (the mean at least ``floor_depth``), or None while warming up."""
        if self.count < self.warmup:
            return None
        return 1.0 / max(self.mean, floor_depth)
