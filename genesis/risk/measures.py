"""Real-time risk measures (SPEC RK-4): exposure, margin use, VaR/CVaR, beta, drawdown
and a 0-100 risk score, as one JSON-able report.

Statistics are floats (analytics); money in the report (equity, exposure, what
orders lock) stays exact and is written as decimal strings. Returns come from
the ``EventSampler``: equity and prices sampled once per interval of event time
(a minute by default), so VaR is per sampling interval, not per day: scale it
yourself if you need another horizon (sqrt-time for the parametric figure).

VaR and CVaR are losses as positive fractions of equity (a negative VaR means
even the tail was a gain):

* historical VaR at level ``c``: minus the ``1 - c`` quantile of the returns,
  interpolated linearly between order statistics (numpy's default ``linear``);
  historical CVaR: minus the mean of the returns at or below that quantile;
* parametric (normal) VaR: ``-(mu + sigma * z)`` with ``z`` the standard
  normal's ``1 - c`` quantile, CVaR ``-mu + sigma * pdf(z) / (1 - c)``, where
  ``mu`` and ``sigma`` are the returns' mean and sample standard deviation.

Each needs ``MIN_SAMPLES`` returns; below that it is null.

Beta is ``cov(portfolio, benchmark) / var(benchmark)`` over the aligned returns
of equity and the benchmark (``MeasureSettings.benchmark``, else BTCUSDT on the
first venue, in sorted order, that prices it).

Margin use on a spot account is what working orders lock (a buy its quote at
its price plus the worst fee, a sell its base at the mark) over equity: there
is no borrowing, so it says how much of the account is committed, not margin.

Risk score (0-100, higher is riskier) = 100 x the weighted sum of five parts,
each clipped to [0, 1]:

* 0.30 leverage: gross exposure / equity / the tier's max leverage;
* 0.25 tail: historical VaR 99% (else parametric, else 0) / the daily loss limit;
* 0.25 drawdown: current drawdown / the daily loss limit;
* 0.10 concentration: the largest asset's share of gross exposure x the leverage part;
* 0.10 halts: 1 with the kill switch engaged or the engine paused, 0.5 with a
  strategy paused, else 0.

Without a tier the defaults (1x, 5%) stand in for the limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any

from genesis.risk.limits import TierLimits
from genesis.risk.sampler import EventSampler

__all__ = [
    "MIN_SAMPLES",
    "Holding",
    "beta",
    "cvar_historical",
    "cvar_parametric",
    "drawdown",
    "risk_report",
    "risk_score",
    "var_historical",
    "var_parametric",
]

MIN_SAMPLES = 10
_NS = 1_000_000_000
_LEVELS = (0.95, 0.99)
_STD = NormalDist()
_DEFAULT_LEVERAGE = 1.0
_DEFAULT_DAILY_LOSS = 0.05


@dataclass(frozen=True, slots=True)
class Holding:
    """One instrument's aggregate position: what exposure is made of."""

    instrument_id: str
    asset: str  # the base asset
    qty: Decimal
    mark: Decimal


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile, linear between order statistics (numpy's default)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def var_historical(returns: Sequence[float], level: float) -> float | None:
    """Historical VaR at ``level`` (a positive loss fraction); None below MIN_SAMPLES."""
    if len(returns) < MIN_SAMPLES:
        return None
    return -quantile(returns, 1.0 - level)


def cvar_historical(returns: Sequence[float], level: float) -> float | None:
    """Mean loss of the returns at or below the VaR quantile; None below MIN_SAMPLES."""
    if len(returns) < MIN_SAMPLES:
        return None
    cut = quantile(returns, 1.0 - level)
    tail = [r for r in returns if r <= cut]
    return -math.fsum(tail) / len(tail)


def _moments(returns: Sequence[float]) -> tuple[float, float]:
    n = len(returns)
    mu = math.fsum(returns) / n
    return mu, math.sqrt(math.fsum((r - mu) ** 2 for r in returns) / (n - 1))


def var_parametric(returns: Sequence[float], level: float) -> float | None:
    """Normal VaR at ``level``: ``-(mu + sigma * z_(1-level))``; None below MIN_SAMPLES."""
    if len(returns) < MIN_SAMPLES:
        return None
    mu, sigma = _moments(returns)
    return -(mu + sigma * _STD.inv_cdf(1.0 - level))


def cvar_parametric(returns: Sequence[float], level: float) -> float | None:
    """Normal CVaR at ``level``: ``-mu + sigma * pdf(z) / (1 - level)``."""
    if len(returns) < MIN_SAMPLES:
        return None
    mu, sigma = _moments(returns)
    z = _STD.inv_cdf(1.0 - level)
    return -mu + sigma * _STD.pdf(z) / (1.0 - level)


def beta(portfolio: Sequence[float], benchmark: Sequence[float]) -> float | None:
    """``cov(p, b) / var(b)`` of aligned returns; None below MIN_SAMPLES or a flat benchmark."""
    n = len(benchmark)
    if n < MIN_SAMPLES or n != len(portfolio):
        return None
    mp, mb = math.fsum(portfolio) / n, math.fsum(benchmark) / n
    var_b = math.fsum((b - mb) ** 2 for b in benchmark)
    if var_b <= 0:
        return None
    cov = math.fsum((p - mp) * (b - mb) for p, b in zip(portfolio, benchmark, strict=True))
    return cov / var_b


def drawdown(times: Sequence[int], equity: Sequence[float]) -> dict[str, Any]:
    """Current and maximum drawdown (fractions), how long the current one has lasted,
    the longest one (peak to recovery, or to now), and how long the last recovered one
    took from its trough back to its peak (seconds of event time; null if none)."""
    peak, peak_t = -math.inf, 0
    trough, trough_t = math.inf, 0
    worst = longest = 0.0
    recovery: float | None = None
    for t, e in zip(times, equity, strict=True):
        if e >= peak:
            if peak > trough:  # a drawdown ended: it recovered
                recovery = (t - trough_t) / _NS
                longest = max(longest, (t - peak_t) / _NS)
            peak, peak_t, trough, trough_t = e, t, e, t
        elif e < trough:
            trough, trough_t = e, t
        if peak > 0:
            worst = max(worst, (peak - e) / peak)
    now_t = times[-1] if times else 0
    current = (peak - equity[-1]) / peak if equity and peak > 0 else 0.0
    lasting = (now_t - peak_t) / _NS if current > 0 else 0.0
    return {
        "current_pct": current,
        "max_pct": worst,
        "current_duration_s": lasting,
        "longest_duration_s": max(longest, lasting),
        "last_recovery_s": recovery,
    }


def risk_score(
    *, leverage: float, var99: float | None, current_drawdown: float, concentration: float,
    halted: float, limits: TierLimits | None,
) -> tuple[float, dict[str, float]]:  # fmt: skip
    """The 0-100 score and its parts (see the module docstring)."""
    max_leverage = float(limits.max_leverage) if limits else _DEFAULT_LEVERAGE
    daily = float(limits.max_daily_loss_pct) if limits else _DEFAULT_DAILY_LOSS
    lev = _clip(leverage / max_leverage)
    parts = {
        "leverage": lev,
        "tail": _clip((var99 or 0.0) / daily),
        "drawdown": _clip(current_drawdown / daily),
        "concentration": _clip(concentration) * lev,
        "halts": _clip(halted),
    }
    weights = {"leverage": 0.30, "tail": 0.25, "drawdown": 0.25, "concentration": 0.10}
    total = sum(weights[k] * parts[k] for k in weights) + 0.10 * parts["halts"]
    return round(100.0 * _clip(total), 2), parts


def _clip(x: float) -> float:
    return 0.0 if not x > 0 else min(1.0, x)  # NaN counts as 0


def exposure(holdings: Sequence[Holding], equity: Decimal) -> dict[str, Any]:
    """Gross and net exposure, in total and per base asset, exact and as % of equity."""
    by_asset: dict[str, list[Decimal]] = {}
    for h in holdings:
        value = h.qty * h.mark
        net_gross = by_asset.setdefault(h.asset, [Decimal(0), Decimal(0)])
        net_gross[0] += value
        net_gross[1] += abs(value)
    gross = sum((g for _, g in by_asset.values()), Decimal(0))
    net = sum((n for n, _ in by_asset.values()), Decimal(0))
    return {
        "gross": _money(gross),
        "net": _money(net),
        "gross_pct": _pct(gross, equity),
        "net_pct": _pct(net, equity),
        "by_asset": {
            asset: {"net": _money(n), "gross": _money(g), "pct": _pct(n, equity)}
            for asset, (n, g) in sorted(by_asset.items())
        },
    }


def risk_report(
    *,
    now_ns: int,
    equity: Decimal,
    currency: str,
    holdings: Sequence[Holding],
    locked: Decimal,
    sampler: EventSampler | None,
    benchmark: str | None,
    limits: TierLimits | None,
    breakers: list[dict[str, Any]],
    kill_switch: str | None,
) -> dict[str, Any]:
    """Everything RK-4 asks for, JSON-able (Decimals as strings, floats as floats).

    Args:
        holdings: every non-flat aggregate position with its mark.
        locked: what working orders lock, in ``currency`` (see the module docstring).
        sampler: the event-time samples (None without a tier: no VaR, beta, drawdown).
        benchmark: the beta benchmark's instrument id, or None.
        breakers: ``CircuitBreakers.status()``.
    """
    times = list(sampler.times) if sampler else []
    returns = sampler.equity_returns() if sampler else []
    exp = exposure(holdings, equity)
    gross = sum((abs(h.qty * h.mark) for h in holdings), Decimal(0))
    largest = max((Decimal(g["gross"]) for g in exp["by_asset"].values()), default=Decimal(0))
    tails = _tails(returns)
    bench = sampler.paired_returns(benchmark, None) if sampler and benchmark else ([], [])
    dd = drawdown(times, list(sampler.equity)) if sampler else drawdown([], [])
    engine_paused = any(b["scope"] == "engine" for b in breakers)
    halted = 1.0 if kill_switch is not None or engine_paused else (0.5 if breakers else 0.0)
    score, parts = risk_score(
        leverage=float(gross / equity) if equity > 0 else 0.0,
        var99=tails["var"]["historical"]["99"] or tails["var"]["parametric"]["99"],
        current_drawdown=dd["current_pct"],
        concentration=float(largest / gross) if gross > 0 else 0.0,
        halted=halted,
        limits=limits,
    )
    return {
        "ts_ns": now_ns,
        "currency": currency,
        "equity": _money(equity),
        "exposure": {**exp, "leverage": float(gross / equity) if equity > 0 else None},
        "margin": {
            "locked": _money(locked),
            "used_pct": _pct(locked, equity),
            "basis": "spot: what working orders lock over equity (no borrowing)",
        },
        **tails,
        "samples": len(times),
        "sample_interval_s": sampler.interval_ns // _NS if sampler else None,
        "beta": {
            "benchmark": benchmark,
            "value": beta(bench[1], bench[0]),
            "samples": len(bench[0]),
        },
        "drawdown": dd,
        "kill_switch": kill_switch,
        "breakers": breakers,
        "score": score,
        "score_parts": parts,
    }


def _tails(returns: Sequence[float]) -> dict[str, Any]:
    def by_level(fn: Any) -> dict[str, float | None]:
        return {str(round(level * 100)): fn(returns, level) for level in _LEVELS}

    return {
        "var": {"historical": by_level(var_historical), "parametric": by_level(var_parametric)},
        "cvar": {
            "historical": by_level(cvar_historical),
            "parametric": by_level(cvar_parametric),
        },
    }


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return float(part / whole) if whole > 0 else None
