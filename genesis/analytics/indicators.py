"""Incremental indicators: O(1) per update, no history arrays.

``SMA`` keeps an exact running sum of whatever numbers it is fed: Decimals in
give exact Decimal averages (the reference strategy relies on this so that
ties between two averages are real ties, as in the peers' exact sums), floats
in give float averages.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "ADX",
    "ATR",
    "EMA",
    "RSI",
    "SMA",
    "Bands",
    "BollingerBands",
    "EWMAVolatility",
    "Persistent",
    "RollingCorrelation",
    "RollingMax",
    "RollingMin",
    "RollingSum",
    "true_range",
]

N = TypeVar("N", Decimal, float)


class SMA(Generic[N]):
    """Simple moving average over the last ``period`` values."""

    __slots__ = ("_count", "_sum", "_window", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be >= 1, was {period}")
        self.period = period
        self._window: deque[N] = deque()
        self._sum: N | int = 0
        self._count = 0
        self.value: N | None = None

    def update(self, x: N) -> N | None:
        """Add ``x``; return the average once ``period`` values were seen, else None."""
        window = self._window
        window.append(x)
        if self._count < self.period:
            self._count += 1
            self._sum += x
            if self._count < self.period:
                return None
        else:
            self._sum += x - window.popleft()
        value = self.value = self._sum / self.period
        return value

    @property
    def ready(self) -> bool:
        return self.value is not None


class RollingSum(Generic[N]):
    """Exact sum of the last ``period`` values (no division: compare sums cross-multiplied)."""

    __slots__ = ("_count", "_window", "period", "total")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"window period must be >= 1, was {period}")
        self.period = period
        self._window: deque[N] = deque()
        self._count = 0
        self.total: N | int = 0

    def update(self, x: N) -> N | int | None:
        """Add ``x``; return the sum of the last ``period`` values once that many were seen."""
        window = self._window
        window.append(x)
        if self._count < self.period:
            self._count += 1
            self.total += x
            return self.total if self._count == self.period else None
        total = self.total = self.total + x - window.popleft()
        return total

    def values(self) -> list[N]:
        """The values in the window, oldest first."""
        return list(self._window)


class _RollingExtreme(Generic[N]):
    """Max (or min) of the last ``period`` values with a monotonic deque: O(1) amortised."""

    __slots__ = ("_count", "_deque", "_sign", "period")

    def __init__(self, period: int, sign: int) -> None:
        if period < 1:
            raise ValueError(f"window period must be >= 1, was {period}")
        self.period = period
        self._deque: deque[tuple[int, N]] = deque()
        self._count = 0
        self._sign = sign

    def update(self, x: N) -> N | None:
        """Add ``x``; return the extreme of the window once full, else None."""
        dq, i = self._deque, self._count
        while dq and (dq[-1][1] <= x if self._sign > 0 else dq[-1][1] >= x):
            dq.pop()
        dq.append((i, x))
        if dq[0][0] <= i - self.period:
            dq.popleft()
        self._count = i + 1
        return self.value

    @property
    def value(self) -> N | None:
        return self._deque[0][1] if self._count >= self.period else None


class RollingMax(_RollingExtreme[N]):
    def __init__(self, period: int) -> None:
        super().__init__(period, +1)


class RollingMin(_RollingExtreme[N]):
    def __init__(self, period: int) -> None:
        super().__init__(period, -1)


# --- float indicators ----------------------------------------------------------------
#
# Conventions shared by the float indicators below:
#
# * ``update(...)`` returns the new value, or None until the indicator is ready; ``value``
#   holds the last one and ``ready`` says whether it exists.
# * Wilder smoothing (RSI, ATR, ADX) is seeded with the plain mean of the first ``period``
#   inputs, then ``s += (x - s) / period`` (TA-Lib's convention). These recursions contract
#   errors, so they cannot drift.
# * Rolling windows (Bollinger, correlation, efficiency ratio) update their moments in
#   O(1) with Welford's add/replace formulas and, every ``period`` replacements, recompute
#   them exactly from the window (``math.fsum``, two passes): O(1) amortised, and the
#   rounding error can never accumulate beyond one window's worth, even over months.
# * ``snapshot()`` returns the state as JSON-ready data and ``restore(state)`` loads it into
#   an indicator built with the same settings: it then continues bit for bit as the
#   original would have (floats survive JSON exactly: ``repr`` round-trips).

# settings, fixed at construction: not state (a snapshot restores into an instance built
# with the same ones)
_SETTINGS = frozenset({"_alpha", "ddof", "k", "lam", "params", "period"})


class Persistent:
    """``snapshot``/``restore`` of every slot that is state, nested indicators included."""

    __slots__ = ()

    def snapshot(self) -> dict[str, Any]:
        """The indicator's state as JSON-ready data (settings excluded)."""
        return {name: _encode(getattr(self, name)) for name in _state_slots(type(self))}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load what :meth:`snapshot` returned on an instance with the same settings.

        Raises:
            KeyError: ``state`` lacks a field (a snapshot of another indicator type).
        """
        for name in _state_slots(type(self)):
            current = getattr(self, name)
            if isinstance(current, Persistent):
                current.restore(state[name])
            else:
                setattr(self, name, self._decode(name, current, state[name]))

    def _decode(self, name: str, current: object, raw: Any) -> Any:
        return deque(raw) if isinstance(current, deque) else raw


def _encode(value: object) -> Any:
    if isinstance(value, Persistent):
        return value.snapshot()
    if isinstance(value, deque | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


_STATE_SLOTS: dict[type, tuple[str, ...]] = {}


def _state_slots(cls: type) -> tuple[str, ...]:
    slots = _STATE_SLOTS.get(cls)
    if slots is None:
        names = {name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())}
        slots = _STATE_SLOTS[cls] = tuple(sorted(names - _SETTINGS))
    return slots


class _Wilder(Persistent):
    """Wilder's running mean: the mean of the first ``period`` inputs, then 1/period smoothing."""

    __slots__ = ("_count", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self._count = 0
        self.value = 0.0

    def update(self, x: float) -> float | None:
        if self._count >= self.period:
            self.value += (x - self.value) / self.period
            return self.value
        self._count += 1
        self.value += (x - self.value) / self._count  # the running plain mean while seeding
        return self.value if self._count == self.period else None


def _check_period(name: str, period: int, minimum: int = 1) -> None:
    if period < minimum:
        raise ValueError(f"{name} period must be >= {minimum}, was {period}")


class EMA(Persistent):
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the SMA of the
    first ``period`` values (ready from the ``period``-th value on)."""

    __slots__ = ("_alpha", "_seed", "period", "value")

    def __init__(self, period: int) -> None:
        _check_period("EMA", period)
        self.period = period
        self._alpha = 2.0 / (period + 1)
        self._seed = _Wilder(period)
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        """Add ``x``; return the average once ``period`` values were seen, else None."""
        if self.value is None:
            self.value = self._seed.update(x)
        else:
            self.value += self._alpha * (x - self.value)
        return self.value

    @property
    def ready(self) -> bool:
        return self.value is not None


class RSI(Persistent):
    """Wilder's relative strength index of a close series, in [0, 100].

    Gains and losses of consecutive closes are Wilder-smoothed over ``period``;
    ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)``, 100 when there was no loss
    and 50 when the price did not move at all. Ready after ``period + 1`` closes.
    """

    __slots__ = ("_gain", "_loss", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        _check_period("RSI", period)
        self.period = period
        self._gain = _Wilder(period)
        self._loss = _Wilder(period)
        self._prev: float | None = None
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        """Add a close; return the RSI once ``period`` changes were seen, else None."""
        prev, self._prev = self._prev, close
        if prev is None:
            return None
        change = close - prev
        gain = self._gain.update(change if change > 0 else 0.0)
        loss = self._loss.update(-change if change < 0 else 0.0)
        if gain is None or loss is None:
            return None
        if loss == 0.0:
            self.value = 100.0 if gain > 0.0 else 50.0
        else:
            self.value = 100.0 - 100.0 / (1.0 + gain / loss)
        return self.value

    @property
    def ready(self) -> bool:
        return self.value is not None


def true_range(high: float, low: float, prev_close: float) -> float:
    """The bar's range extended to the previous close: max(h - l, |h - pc|, |l - pc|)."""
    return max(high - low, abs(high - prev_close), abs(low - prev_close))


class ATR(Persistent):
    """Wilder's average true range over ``period`` bars, in price units.

    The true range needs the previous close, so the first bar only sets it
    (TA-Lib's convention): ready after ``period + 1`` bars.
    """

    __slots__ = ("_prev_close", "_tr", "period", "value")

    def __init__(self, period: int = 14) -> None:
        _check_period("ATR", period)
        self.period = period
        self._tr = _Wilder(period)
        self._prev_close: float | None = None
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        """Add a bar; return the ATR once ``period`` true ranges were seen, else None."""
        prev, self._prev_close = self._prev_close, close
        if prev is None:
            return None
        self.value = self._tr.update(true_range(high, low, prev))
        return self.value

    @property
    def ready(self) -> bool:
        return self.value is not None


class ADX(Persistent):
    """Wilder's average directional index (trend strength, 0..100, direction-blind).

    From the second bar on: ``+DM = h - h_prev`` when that exceeds ``l_prev - l``
    and is positive (else 0), ``-DM`` the mirror; TR, +DM and -DM are Wilder-smoothed
    over ``period``; ``±DI = 100 · DM / TR``; ``DX = 100 · |+DI - -DI| / (+DI + -DI)``
    (0 when both are 0); ADX is DX Wilder-smoothed over ``period``. Ready after
    ``2 · period`` bars. ``plus_di``/``minus_di`` give the direction.
    """

    __slots__ = ("_dx", "_minus", "_plus", "_prev", "_tr", "minus_di", "period", "plus_di", "value")

    def __init__(self, period: int = 14) -> None:
        _check_period("ADX", period)
        self.period = period
        self._tr, self._plus, self._minus = _Wilder(period), _Wilder(period), _Wilder(period)
        self._dx = _Wilder(period)
        self._prev: tuple[float, float, float] | None = None
        self.plus_di = self.minus_di = 0.0
        self.value: float | None = None

    def _decode(self, name: str, current: object, raw: Any) -> Any:
        if name == "_prev" and raw is not None:
            return tuple(raw)
        return super()._decode(name, current, raw)

    def update(self, high: float, low: float, close: float) -> float | None:
        """Add a bar; return the ADX once ready, else None."""
        prev, self._prev = self._prev, (high, low, close)
        if prev is None:
            return None
        up, down = high - prev[0], prev[1] - low
        tr = self._tr.update(true_range(high, low, prev[2]))
        plus = self._plus.update(up if up > down and up > 0.0 else 0.0)
        minus = self._minus.update(down if down > up and down > 0.0 else 0.0)
        if tr is None or plus is None or minus is None:
            return None
        self.plus_di = 100.0 * plus / tr if tr > 0.0 else 0.0
        self.minus_di = 100.0 * minus / tr if tr > 0.0 else 0.0
        total = self.plus_di + self.minus_di
        dx = 100.0 * abs(self.plus_di - self.minus_di) / total if total > 0.0 else 0.0
        self.value = self._dx.update(dx)
        return self.value

    @property
    def ready(self) -> bool:
        return self.value is not None


class _RollingMoments(Persistent):
    """Mean and sum of squared deviations (M2) of the last ``period`` floats.

    Welford's add while filling, then the replace step ``M2 += (x - old)(x - m' + old - m)``;
    every ``period`` replacements both are recomputed exactly from the window.
    """

    __slots__ = ("_since_exact", "m2", "mean", "period", "window")

    def __init__(self, period: int) -> None:
        self.period = period
        self.window: deque[float] = deque()
        self.mean = self.m2 = 0.0
        self._since_exact = 0

    def push(self, x: float) -> bool:
        """Add ``x`` (dropping the oldest once full); return whether the window is full."""
        window = self.window
        window.append(x)
        n = len(window)
        if n <= self.period:
            delta = x - self.mean
            self.mean += delta / n
            self.m2 += delta * (x - self.mean)
            return n == self.period
        old = window.popleft()
        self._since_exact += 1
        if self._since_exact >= self.period:
            self._recompute()
            return True
        mean = self.mean
        self.mean = mean + (x - old) / self.period
        self.m2 = max(0.0, self.m2 + (x - old) * (x - self.mean + old - mean))
        return True

    @classmethod
    def of(cls, period: int, values: list[float]) -> _RollingMoments:
        """Moments of ``values`` (at most ``period`` of them), computed exactly."""
        assert len(values) <= period
        moments = cls(period)
        moments.window.extend(values)
        if values:
            moments._recompute()
        return moments

    def variance(self, ddof: int) -> float:
        return self.m2 / (len(self.window) - ddof)

    def _recompute(self) -> None:
        window = self.window
        self.mean = mean = math.fsum(window) / len(window)
        self.m2 = math.fsum((v - mean) * (v - mean) for v in window)
        self._since_exact = 0


class Bands(NamedTuple):
    lower: float
    middle: float
    upper: float


class BollingerBands(Persistent):
    """Bollinger Bands: the SMA of the last ``period`` closes ± ``k`` standard deviations.

    The standard deviation is the *population* one (``ddof=0``, Bollinger's own
    definition, TA-Lib's too; pass ``ddof=1`` for the sample one, pandas' default).
    Ready after ``period`` closes.
    """

    __slots__ = ("_moments", "ddof", "k", "period", "stdev", "value")

    def __init__(self, period: int = 20, k: float = 2.0, *, ddof: int = 0) -> None:
        _check_period("BollingerBands", period, minimum=2)
        if k <= 0.0:
            raise ValueError(f"BollingerBands k must be > 0, was {k}")
        if ddof not in (0, 1):
            raise ValueError(f"BollingerBands ddof must be 0 or 1, was {ddof}")
        self.period, self.k, self.ddof = period, k, ddof
        self._moments = _RollingMoments(period)
        self.stdev = 0.0
        self.value: Bands | None = None

    def _decode(self, name: str, current: object, raw: Any) -> Any:
        if name == "value" and raw is not None:
            return Bands(*raw)
        return super()._decode(name, current, raw)

    def update(self, close: float) -> Bands | None:
        """Add a close; return ``Bands(lower, middle, upper)`` once ready, else None."""
        moments = self._moments
        if not moments.push(close):
            return None
        self.stdev = sd = math.sqrt(moments.variance(self.ddof))
        mid = moments.mean
        self.value = Bands(mid - self.k * sd, mid, mid + self.k * sd)
        return self.value

    def percent_b(self, price: float) -> float | None:
        """Where ``price`` sits in the bands: 0 at the lower, 1 at the upper (None if flat)."""
        bands = self.value
        if bands is None or bands.upper == bands.lower:
            return None
        return (price - bands.lower) / (bands.upper - bands.lower)

    @property
    def ready(self) -> bool:
        return self.value is not None


class EWMAVolatility(Persistent):
    """RiskMetrics volatility of log returns: ``σ²_t = λ σ²_{t-1} + (1 - λ) r_t²``.

    Fed prices; ``r_t = ln(p_t / p_{t-1})`` (mean taken as zero, as in RiskMetrics).
    The variance is seeded with the mean of the first ``warmup`` squared returns, so
    it is ready after ``warmup + 1`` prices. The value is the per-period sigma (not
    annualised: multiply by √periods-per-year). ``from_span`` takes an EWMA span
    instead (``λ = 1 - 2 / (span + 1)``).
    """

    __slots__ = ("_prev", "_seed", "lam", "value", "variance")

    def __init__(self, lam: float = 0.94, warmup: int = 20) -> None:
        if not 0.0 < lam < 1.0:
            raise ValueError(f"EWMAVolatility lam must be in (0, 1), was {lam}")
        _check_period("EWMAVolatility warmup", warmup)
        self.lam = lam
        self._seed = _Wilder(warmup)
        self._prev: float | None = None
        self.variance: float | None = None
        self.value: float | None = None

    @classmethod
    def from_span(cls, span: float, warmup: int = 20) -> EWMAVolatility:
        """The same with ``λ = 1 - 2 / (span + 1)`` (pandas' ``ewm(span=...)``)."""
        if span < 1.0:
            raise ValueError(f"EWMAVolatility span must be >= 1, was {span}")
        return cls(1.0 - 2.0 / (span + 1.0), warmup)

    def update(self, price: float) -> float | None:
        """Add a price (> 0); return the sigma of log returns once ready, else None."""
        prev, self._prev = self._prev, price
        if prev is None:
            return None
        r = math.log(price / prev)
        if self.variance is None:
            self.variance = self._seed.update(r * r)
            if self.variance is None:
                return None
        else:
            self.variance = self.lam * self.variance + (1.0 - self.lam) * r * r
        self.value = math.sqrt(self.variance)
        return self.value

    @property
    def ready(self) -> bool:
        return self.value is not None


class RollingCorrelation(Persistent):
    """Pearson correlation of two series (e.g. two assets' returns) over the last ``period`` pairs.

    Fed the paired values themselves (compute returns before). Co-moments use
    the same add/remove and periodic exact recomputation as the bands. A window
    where either series is constant has no correlation: the value is then 0.0.
    """

    __slots__ = ("_cxy", "_since_exact", "_x", "_y", "period", "value")

    def __init__(self, period: int) -> None:
        _check_period("RollingCorrelation", period, minimum=2)
        self.period = period
        self._x, self._y = _RollingMoments(period), _RollingMoments(period)
        self._cxy = 0.0
        self._since_exact = 0
        self.value: float | None = None

    def update(self, x: float, y: float) -> float | None:
        """Add a pair; return the correlation of the window once full, else None."""
        xs, ys = self._x, self._y
        full = len(xs.window) == self.period
        old = (xs.window[0], ys.window[0]) if full else None
        mx, my = xs.mean, ys.mean
        xs.push(x)
        ys.push(y)
        if old is None:
            self._cxy += (x - mx) * (y - ys.mean)  # Welford's add: (x - old mean)(y - new mean)
            if len(xs.window) < self.period:
                return None
        elif self._since_exact + 1 >= self.period:
            self._recompute()
        else:
            self._since_exact += 1
            self._cxy += _replace_comoment(x, y, old, (mx, my), (xs.mean, ys.mean))
        denominator = math.sqrt(xs.m2 * ys.m2)
        self.value = max(-1.0, min(1.0, self._cxy / denominator)) if denominator > 0.0 else 0.0
        return self.value

    def _recompute(self) -> None:
        mx, my = self._x.mean, self._y.mean
        self._cxy = math.fsum(
            (a - mx) * (b - my) for a, b in zip(self._x.window, self._y.window, strict=True)
        )
        self._since_exact = 0

    @property
    def ready(self) -> bool:
        return self.value is not None


def _replace_comoment(
    x: float,
    y: float,
    old: tuple[float, float],
    mean: tuple[float, float],
    new_mean: tuple[float, float],
) -> float:
    # Remove ``old`` then add (x, y) with n fixed; the two Welford steps collapse to this
    # (the cross term of the pair version of the M2 replace formula).
    return (x - new_mean[0]) * (y - mean[1]) - (old[0] - new_mean[0]) * (old[1] - mean[1])
