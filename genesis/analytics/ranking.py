"""Ranking opportunities by risk-adjusted expected profit, and testing a spread's persistence
(SPEC AN-6).

Ranking model. An opportunity's net edge ``e`` (bps) is what it is *now*; the
orders reach the venues a moment later, by which time the edge has moved.
Model that move as Gaussian with the standard deviation ``s`` (bps) of the
edge's recent *changes* between observations (the execution horizon is taken
to be one observation; supply a scaled ``s`` for longer horizons):

* fill probability ``p = Phi(e / s)``: the chance the edge is still positive
  when both legs execute (each leg is a taker; a vanished edge is a miss);
* risk ``r = notional * s / 10_000``: one standard deviation of the profit,
  in quote currency;
* score ``= p * expected_profit - risk_aversion * r``: a certainty
  equivalent (mean minus lambda standard deviations, lambda default 1). A
  score at or below zero means "not worth the risk"; higher is better.
  Unlike profit / risk it prefers the larger of two equally sharp trades.

Persistence test. Before acting, the edge must have stayed above the
threshold: the last ``min_consecutive`` observations all above it, *and* the
mean of the last ``window`` observations significantly above it by a
one-sided t-test (``H0: mean <= threshold``), ``p < alpha``. Observations a
few milliseconds apart are autocorrelated, which makes a t-test
over-confident; the consecutive-run rule is the guard against one-tick
glitches and stale quotes, and ``window`` should span several independent
quote updates. The exact binomial sign test (``method="sign"``: how many of
the window exceed the threshold, against a fair coin) is the
distribution-free alternative.

Both are O(1) per observation (rolling sums, recomputed exactly every
``window`` updates so that they never drift).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from genesis.analytics.arbitrage import Opportunity

__all__ = [
    "Persistence",
    "PersistenceTest",
    "Ranked",
    "RollingStats",
    "rank",
    "score",
    "sign_test_p",
]

Method = Literal["t", "sign"]
_SQRT2: Final = math.sqrt(2.0)


class RollingStats:
    """Mean and sample standard deviation of the last ``window`` floats, O(1) per push."""

    __slots__ = ("_since_exact", "_sum", "_sum_sq", "_values", "window")

    def __init__(self, window: int) -> None:
        if window < 2:
            raise ValueError(f"invalid `window` {window}; expected >= 2")
        self.window = window
        self._values: deque[float] = deque()
        self._sum = self._sum_sq = 0.0
        self._since_exact = 0

    @property
    def count(self) -> int:
        """How many values the window holds (at most ``window``)."""
        return len(self._values)

    @property
    def mean(self) -> float:
        """Mean of the window (0 when empty)."""
        return self._sum / len(self._values) if self._values else 0.0

    def stdev(self) -> float:
        """Sample standard deviation (n - 1); 0 below two values."""
        n = len(self._values)
        if n < 2:
            return 0.0
        mean = self._sum / n
        return math.sqrt(max(0.0, (self._sum_sq - n * mean * mean) / (n - 1)))

    def push(self, x: float) -> None:
        """Add ``x``, dropping the oldest value once the window is full."""
        values = self._values
        values.append(x)
        self._sum += x
        self._sum_sq += x * x
        if len(values) > self.window:
            old = values.popleft()
            self._sum -= old
            self._sum_sq -= old * old
            self._since_exact += 1
            if self._since_exact >= self.window:  # no drift: recompute from the window
                self._sum = math.fsum(values)
                self._sum_sq = math.fsum(v * v for v in values)
                self._since_exact = 0


# --- ranking ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranked:
    """An opportunity with its fill probability, risk (quote currency) and score."""

    opportunity: Opportunity
    fill_probability: float
    risk: float
    score: float


def score(opportunity: Opportunity, edge_stdev_bps: float, *, risk_aversion: float = 1.0) -> Ranked:
    """Score one opportunity under the module's model.

    Args:
        opportunity: from ``genesis.analytics.arbitrage``.
        edge_stdev_bps: stdev of the net edge's change over the execution horizon, bps;
            0 means the edge is certain (probability 1 if positive, 0 otherwise).
        risk_aversion: lambda, the price of one standard deviation of profit.

    Raises:
        ValueError: a negative stdev or risk aversion.
    """
    if edge_stdev_bps < 0 or risk_aversion < 0:
        raise ValueError(
            f"invalid edge_stdev_bps {edge_stdev_bps} or risk_aversion {risk_aversion};"
            " expected >= 0"
        )
    edge = opportunity.net_bps
    if edge_stdev_bps == 0:
        probability = 1.0 if edge > 0 else 0.0
    else:
        probability = 0.5 * (1.0 + math.erf(edge / edge_stdev_bps / _SQRT2))
    risk = float(opportunity.notional) * edge_stdev_bps / 10_000
    value = probability * opportunity.expected_profit - risk_aversion * risk
    return Ranked(opportunity=opportunity, fill_probability=probability, risk=risk, score=value)


def rank(
    opportunities: Iterable[Opportunity],
    edge_stdev_bps: float,
    *,
    risk_aversion: float = 1.0,
) -> list[Ranked]:
    """Score each opportunity and sort best first (ties keep their input order)."""
    scored = [score(o, edge_stdev_bps, risk_aversion=risk_aversion) for o in opportunities]
    return sorted(scored, key=lambda r: r.score, reverse=True)


# --- persistence -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Persistence:
    """The persistence test's verdict after one observation.

    Attributes:
        consecutive: observations in a row above the threshold, up to this one.
        n: observations in the test window.
        mean: their mean edge, bps.
        p_value: the one-sided p-value (1.0 until the window has ``min_samples``).
        significant: ``consecutive >= min_consecutive and p_value < alpha``.
    """

    consecutive: int
    n: int
    mean: float
    p_value: float
    significant: bool


class PersistenceTest:
    """Has a spread stayed above ``threshold_bps``? Fed one observation (bps) at a time."""

    __slots__ = (
        "_above",
        "_consecutive",
        "_stats",
        "alpha",
        "method",
        "min_consecutive",
        "min_samples",
        "threshold_bps",
    )

    def __init__(
        self,
        threshold_bps: float,
        *,
        window: int = 30,
        min_consecutive: int = 3,
        min_samples: int = 10,
        alpha: float = 0.05,
        method: Method = "t",
    ) -> None:
        """Raises ValueError for a window < 2, min_samples outside [2, window], min_consecutive
        < 1, alpha outside (0, 1) or an unknown method."""
        if not 2 <= min_samples <= window or min_consecutive < 1 or not 0 < alpha < 1:
            raise ValueError(
                f"invalid persistence settings: window {window}, min_samples {min_samples},"
                f" min_consecutive {min_consecutive}, alpha {alpha}"
            )
        if method not in ("t", "sign"):
            raise ValueError(f"invalid `method` {method!r}; expected 't' or 'sign'")
        self.threshold_bps = threshold_bps
        self.min_consecutive, self.min_samples = min_consecutive, min_samples
        self.alpha, self.method = alpha, method
        self._stats = RollingStats(window)
        self._above: deque[bool] = deque(maxlen=window)
        self._consecutive = 0

    def update(self, edge_bps: float) -> Persistence:
        """Add one observation of the edge and return the verdict."""
        above = edge_bps > self.threshold_bps
        self._consecutive = self._consecutive + 1 if above else 0
        self._stats.push(edge_bps)
        self._above.append(above)
        return self.verdict()

    def reset(self) -> None:
        """Forget every observation (e.g. after acting on the spread)."""
        self._stats = RollingStats(self._stats.window)
        self._above.clear()
        self._consecutive = 0

    def verdict(self) -> Persistence:
        """The verdict on the observations so far."""
        n, mean = self._stats.count, self._stats.mean
        p = self._p_value() if n >= self.min_samples else 1.0
        ok = self._consecutive >= self.min_consecutive and p < self.alpha
        return Persistence(consecutive=self._consecutive, n=n, mean=mean, p_value=p, significant=ok)

    def _p_value(self) -> float:
        if self.method == "sign":
            return sign_test_p(sum(self._above), len(self._above))
        n, sd = self._stats.count, self._stats.stdev()
        excess = self._stats.mean - self.threshold_bps
        if sd == 0:
            return 0.0 if excess > 0 else 1.0
        t = excess / (sd / math.sqrt(n))
        from scipy import stats  # type: ignore[import-untyped]  # on first use: 0.2 s to import

        return float(stats.t.sf(t, n - 1))


def sign_test_p(above: int, n: int) -> float:
    """Exact one-sided sign test: P(X >= above) for X ~ Binomial(n, 1/2).

    Raises:
        ValueError: ``above`` outside [0, n].
    """
    if not 0 <= above <= n:
        raise ValueError(f"invalid sign test: {above} above of {n}")
    return math.fsum(math.comb(n, k) for k in range(above, n + 1)) / 2.0**n
