"""A/B statistics (SPEC PT-3): two return series compared, and a backtest's expectation.

Floats throughout (analytics). ``compare`` puts a variant's returns beside the
baseline's with two tests, because trading returns are rarely normal:

* Welch's t-test (``scipy.stats.ttest_ind``, unequal variances): are the means
  different?
* Mann-Whitney U (two-sided): is one series stochastically larger? Its effect is
  ``prob_superiority`` = U_b / (n_a n_b), the chance a random return of the variant
  beats a random one of the baseline (ties count half; 0.5 = no difference);
* Cohen's d: the difference of means over the pooled sample standard deviation.

With several variants against one baseline, ``holm`` adjusts the Welch p-values
for the number of comparisons (Holm-Bonferroni, statsmodels).

``bootstrap_mean`` is the expectation a paper strategy is held to: the seeded
percentile bootstrap interval of the mean net P&L per trade of a backtest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from genesis.errors import ConfigError

__all__ = ["Comparison", "bootstrap_mean", "compare", "holm"]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Variant ``b`` against baseline ``a``; p-values are two-sided."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    welch_t: float
    welch_p: float
    mannwhitney_u: float
    mannwhitney_p: float
    prob_superiority: float
    cohens_d: float | None

    def fields(self) -> dict[str, Any]:
        return {
            "n_a": self.n_a, "n_b": self.n_b, "mean_a": self.mean_a, "mean_b": self.mean_b,
            "difference": self.mean_b - self.mean_a, "welch_t": self.welch_t,
            "welch_p": self.welch_p, "mannwhitney_u": self.mannwhitney_u,
            "mannwhitney_p": self.mannwhitney_p, "prob_superiority": self.prob_superiority,
            "cohens_d": self.cohens_d,
        }  # fmt: skip


def compare(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Baseline ``a`` against variant ``b``.

    Raises:
        ConfigError: a series with fewer than 2 returns or a non-finite one (no test).
    """
    from scipy import stats as sps  # type: ignore[import-untyped]  # lazily: the CLI loads us

    xa, xb = _series("baseline", a), _series("variant", b)
    welch = sps.ttest_ind(xb, xa, equal_var=False)
    mw = sps.mannwhitneyu(xb, xa, alternative="two-sided")
    var_a, var_b = float(np.var(xa, ddof=1)), float(np.var(xb, ddof=1))
    pooled = math.sqrt(((xa.size - 1) * var_a + (xb.size - 1) * var_b) / (xa.size + xb.size - 2))
    diff = float(xb.mean() - xa.mean())
    return Comparison(
        n_a=int(xa.size),
        n_b=int(xb.size),
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        welch_t=_finite(welch.statistic),
        welch_p=_finite(welch.pvalue, 1.0),
        mannwhitney_u=float(mw.statistic),
        mannwhitney_p=float(mw.pvalue),
        prob_superiority=float(mw.statistic) / (xa.size * xb.size),
        cohens_d=diff / pooled if pooled > 0 else None,
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the same order."""
    from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

    if not pvalues:
        return []
    return [float(p) for p in multipletests(list(pvalues), method="holm")[1]]


def bootstrap_mean(
    values: Sequence[Decimal], *, paths: int = 2000, seed: int = 7, level: float = 0.95
) -> tuple[Decimal, Decimal]:
    """Percentile bootstrap interval of the mean of ``values``, exact to their precision.

    The same ``values``, ``paths`` and ``seed`` always give the same interval.

    Raises:
        ConfigError: fewer than 2 values, or ``level`` not in (0, 1).
    """
    if len(values) < 2:
        raise ConfigError(f"a bootstrap needs at least 2 trades, had {len(values)}")
    if not 0 < level < 1:
        raise ConfigError(f"level is in (0, 1), was {level}")
    data = np.array([float(v) for v in values])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(paths, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    exponent = min(int(v.as_tuple().exponent) for v in values)
    unit = Decimal(1).scaleb(exponent)
    return Decimal(repr(float(low))).quantize(unit), Decimal(repr(float(high))).quantize(unit)


def _series(name: str, values: Sequence[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        raise ConfigError(f"the {name} has {data.size} returns; a test needs at least 2")
    if not np.isfinite(data).all():
        raise ConfigError(f"the {name} has a non-finite return")
    return data


def _finite(value: Any, default: float = 0.0) -> float:
    number = float(value)
    return number if math.isfinite(number) else default
