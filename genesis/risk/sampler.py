"""Equity and prices sampled in event time: what correlation, VaR and beta read (RK-1, RK-4).

The kernel calls ``due(now_ns)`` after every market event (an int comparison)
and, when a sample is due, ``take(now_ns, equity, prices)``: one sample per
``interval_s`` of event time at most, kept in bounded deques (``max_samples``),
so memory does not grow with the session. Every instrument is sampled at the
same instants, so two instruments' returns are aligned by construction. A gap
in the data (no event for several intervals) gives one sample, not a run of
repeated ones: returns are between consecutive samples, whatever their spacing.

Floats: these are statistics, never money. Correlations are cached until the
next sample, so the pre-trade check pays for one per pair per interval.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal

__all__ = ["EventSampler", "correlation", "simple_returns"]

_NS = 1_000_000_000


class EventSampler:
    """Bounded samples of equity and every instrument's last price, in event time."""

    def __init__(self, interval_s: int = 60, max_samples: int = 1440) -> None:
        if interval_s < 1 or max_samples < 2:
            raise ValueError(
                f"interval_s must be >= 1 and max_samples >= 2, were {interval_s}, {max_samples}"
            )
        self.interval_ns = interval_s * _NS
        self.times: deque[int] = deque(maxlen=max_samples)
        self.equity: deque[float] = deque(maxlen=max_samples)
        self.prices: deque[dict[str, float]] = deque(maxlen=max_samples)
        self.next_ns = 0  # the first event is sampled
        self._corr: dict[tuple[str, str], tuple[float | None, int]] = {}

    def due(self, now_ns: int) -> bool:
        return now_ns >= self.next_ns

    def take(self, now_ns: int, equity: Decimal, prices: Mapping[str, Decimal]) -> None:
        """Record one sample at ``now_ns``; the next is due one interval later."""
        self.times.append(now_ns)
        self.equity.append(float(equity))
        self.prices.append({k: float(v) for k, v in prices.items()})
        self.next_ns = now_ns - now_ns % self.interval_ns + self.interval_ns
        self._corr.clear()

    def equity_returns(self) -> list[float]:
        """Simple returns of equity between consecutive samples."""
        return simple_returns(list(self.equity))

    def returns_of(self, instrument_id: str) -> list[float]:
        """Simple returns of one instrument between consecutive samples that both priced it."""
        return _paired_returns(self.prices, instrument_id, None)[0]

    def paired_returns(self, a: str, b: str | None) -> tuple[list[float], list[float]]:
        """Aligned returns of ``a`` and ``b`` (equity when ``b`` is None)."""
        if b is None:
            return _equity_paired(self.prices, self.equity, a)
        return _paired_returns(self.prices, a, b)

    def correlation(self, a: str, b: str) -> tuple[float | None, int]:
        """(Pearson correlation of the two instruments' returns, how many pairs); the
        correlation is None with fewer than 3 pairs or a flat series."""
        key = (a, b) if a <= b else (b, a)
        cached = self._corr.get(key)
        if cached is None:
            xs, ys = self.paired_returns(*key)
            cached = self._corr[key] = (correlation(xs, ys), len(xs))
        return cached

    def __len__(self) -> int:
        return len(self.times)


def simple_returns(values: list[float]) -> list[float]:
    """``v[i] / v[i-1] - 1`` for each consecutive pair with ``v[i-1] > 0``."""
    return [b / a - 1.0 for a, b in itertools.pairwise(values) if a > 0]


def correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r of two equally long series; None below 3 points or with no variance."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _paired_returns(
    samples: deque[dict[str, float]], a: str, b: str | None
) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    prev: dict[str, float] | None = None
    for sample in samples:
        if prev is not None and prev.get(a, 0.0) > 0 and a in sample:
            if b is None:
                xs.append(sample[a] / prev[a] - 1.0)
            elif prev.get(b, 0.0) > 0 and b in sample:
                xs.append(sample[a] / prev[a] - 1.0)
                ys.append(sample[b] / prev[b] - 1.0)
        prev = sample
    return xs, ys


def _equity_paired(
    samples: deque[dict[str, float]], equity: deque[float], a: str
) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    prev: tuple[dict[str, float], float] | None = None
    for sample, value in zip(samples, equity, strict=True):
        if prev is not None and prev[0].get(a, 0.0) > 0 and a in sample and prev[1] > 0:
            xs.append(sample[a] / prev[0][a] - 1.0)
            ys.append(value / prev[1] - 1.0)
        prev = (sample, value)
    return xs, ys
