"""``pairs_trading`` (Hunter, SPEC ST-H2): trade a cointegrated pair's spread z-score.

Two instruments, A then B as configured. On every bar time that both legs
have a bar (a time missing from either leg is skipped, as an inner join), the
closes go into a :class:`~genesis.analytics.cointegration.PairTracker`: the
hedge ratio ``beta`` and intercept of ``log A`` on ``log B`` over the last
``window`` bars, the spread ``log A - beta log B - alpha`` and its z-score over
the last ``window`` spreads. Every ``retest_bars`` bars the Engle-Granger test
runs on the last ``test_window`` log closes (statsmodels, in the kernel: pure
and deterministic); entries are allowed only while its p-value is below
``pvalue_max`` and ``beta > 0`` (a negative hedge ratio is no hedge).

A spot account cannot sell what it does not hold, so each side of the spread
is traded through its long leg only:

* long spread (``z <= -entry_z``: A cheap against B): buy A;
* short spread (``z >= entry_z``: A rich against B): buy B.

The bought leg is a bet on the spread's reversion, not market-neutral: it
keeps that coin's move against the quote currency. Each entry is
``notional_pct`` of equity, with a take profit and a stop loss attached: the
prices of the bought leg at which the z-score would reach the exit line
(``-exit_z`` or ``exit_z``) and the stop line (``-stop_z`` or ``stop_z``) if the
other leg and the fit stayed put. Bought A moves the spread by ``d log A``,
bought B by ``-beta d log B``, so for A ``price x exp((z_line - z) stdev)`` and
for B ``price x exp((z - z_line) stdev / beta)``. Beside those orders, on every bar
time a long-A position is closed at market once ``z >= -exit_z`` (reverted) or
``z <= -stop_z`` (stopped), a long-B position once ``z <= exit_z`` or
``z >= stop_z``. A cointegration lost while in a position does not close it:
the stop does. One entry per excursion: after an entry on one side, that side
is armed again only once the z-score is back inside its exit line, so a spread
that keeps stretching after a stop is not bought again and again.

Confidence of an entry: ``1 - 0.5 x (p / pvalue_max) x (entry_z / |z|)``, 0.5
at the threshold p-value on the entry line, rising to 1 as the evidence of
cointegration and the deviation grow; entries below ``min_confidence`` (the
Hunter tier's floor by default) are not sent. Exits are rules, confidence 1.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field, model_validator

from genesis.core.events import Bar
from genesis.errors import ConfigError
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

if TYPE_CHECKING:
    from genesis.analytics.cointegration import PairState, PairTracker

__all__ = ["PairsTrading", "PairsTradingParams"]

_MIN_ROWS: Final = 30  # genesis.analytics.cointegration.MIN_ROWS (not imported here: see on_start)


class PairsTradingParams(StrategyParams):
    window: int = Field(default=288, ge=_MIN_ROWS, le=100_000)  # bars for beta and the z-score
    entry_z: float = Field(default=2.0, gt=0, le=20)
    exit_z: float = Field(default=0.5, ge=0, le=20)
    stop_z: float = Field(default=4.0, gt=0, le=50)
    test_window: int = Field(default=576, ge=_MIN_ROWS, le=100_000)  # bars for Engle-Granger
    retest_bars: int = Field(default=48, ge=1, le=100_000)
    pvalue_max: float = Field(default=0.05, gt=0, lt=1)
    notional_pct: Decimal = Field(default=Decimal("0.04"), gt=0, le=Decimal("0.05"))
    min_confidence: float = Field(default=0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _z_lines_ordered(self) -> PairsTradingParams:
        if not self.exit_z < self.entry_z < self.stop_z:
            raise ValueError(
                f"z lines must satisfy exit_z < entry_z < stop_z, were {self.exit_z},"
                f" {self.entry_z}, {self.stop_z}"
            )
        return self


@register("pairs_trading", tiers=(Tier.HUNTER,), spec=("ST-H2",))
class PairsTrading(Strategy[PairsTradingParams]):
    """Buy the cheap leg of a cointegrated pair when its spread's z-score stretches."""

    Params = PairsTradingParams

    def on_start(self) -> None:
        if len(self.instruments) != 2:
            raise ConfigError(
                f"pairs_trading {self.id}: invalid instruments {list(self.instruments)},"
                " expected exactly two (A then B)"
            )
        # Imported here, not at module level: statsmodels and pandas cost about 2 s and
        # 110 MB, paid only by a process that runs this strategy, not by every registry load.
        from genesis.analytics import cointegration

        self._coint = cointegration
        self.leg_a, self.leg_b = self.instruments
        p = self.params
        self._tracker: PairTracker = cointegration.PairTracker(p.window)
        self._history: deque[tuple[float, float]] = deque(maxlen=p.test_window)
        self._last: dict[str, tuple[int, Decimal]] = {}  # leg -> (bar open time, close)
        self._since_test = 0
        self._armed = [True, True]  # long spread, short spread: may enter (see docstring)
        self.pvalue: float | None = None
        self.pairs = 0  # bar times both legs had
        self.signals = 0

    def on_bar(self, bar: Bar) -> None:
        last = self._last
        last[bar.instrument_id] = (bar.ts_open, bar.close)
        other = last.get(self.leg_b if bar.instrument_id == self.leg_a else self.leg_a)
        if other is None or other[0] != bar.ts_open:
            return  # the other leg's bar for this time has not come (or never will)
        self.pairs += 1
        close_a, close_b = last[self.leg_a][1], last[self.leg_b][1]
        price_a, price_b = float(close_a), float(close_b)  # analytics run on floats
        state = self._tracker.update(price_a, price_b)
        self._history.append((math.log(price_a), math.log(price_b)))
        self._retest()
        if state is not None:
            self._act(state, close_a, close_b)

    def _retest(self) -> None:
        """Engle-Granger on the last ``test_window`` bars, every ``retest_bars`` bars."""
        self._since_test += 1
        history = self._history
        if len(history) < self.params.test_window:
            return
        if self.pvalue is not None and self._since_test < self.params.retest_bars:
            return
        log_a, log_b = zip(*history, strict=True)
        self.pvalue = self._coint.engle_granger(log_a, log_b).pvalue
        self._since_test = 0

    def _act(self, state: PairState, close_a: Decimal, close_b: Decimal) -> None:
        ctx, z, exit_z = self.ctx, state.zscore, self.params.exit_z
        self._armed[0] = self._armed[0] or z >= -exit_z
        self._armed[1] = self._armed[1] or z <= exit_z
        long_a, long_b = ctx.position(self.leg_a) > 0, ctx.position(self.leg_b) > 0
        if long_a or long_b:
            self._maybe_exit(z, long_a, long_b)
        elif not (ctx.open_orders(self.leg_a) or ctx.open_orders(self.leg_b)):
            self._maybe_enter(state, close_a, close_b)

    def _maybe_exit(self, z: float, long_a: bool, long_b: bool) -> None:
        p = self.params
        if long_a and (z >= -p.exit_z or z <= -p.stop_z):
            reason = "spread_reverted" if z >= -p.exit_z else "spread_stop"
            self.ctx.close(self.leg_a, confidence=1.0, reason=f"{reason} z={z:.3f}")
        if long_b and (z <= p.exit_z or z >= p.stop_z):
            reason = "spread_reverted" if z <= p.exit_z else "spread_stop"
            self.ctx.close(self.leg_b, confidence=1.0, reason=f"{reason} z={z:.3f}")

    def _maybe_enter(self, state: PairState, close_a: Decimal, close_b: Decimal) -> None:
        p, z, pvalue = self.params, state.zscore, self.pvalue
        if pvalue is None or pvalue >= p.pvalue_max or state.beta <= 0:
            return
        if not (p.entry_z <= abs(z) < p.stop_z and self._armed[z > 0]):
            return
        confidence = self.confidence(pvalue, z)
        if confidence < p.min_confidence:
            return
        why = f"z={z:.3f} p={pvalue:.4f}"
        if z < 0:  # long spread, A is cheap: log A moves the spread one for one
            lines, scale = (-p.stop_z, -p.exit_z), state.spread_std
            self._enter(self.leg_a, close_a, z, lines, scale, confidence, f"long_spread {why}")
        else:  # short spread, B is cheap: log B moves it by -beta
            lines, scale = (p.stop_z, p.exit_z), -state.spread_std / state.beta
            self._enter(self.leg_b, close_b, z, lines, scale, confidence, f"short_spread {why}")

    def _enter(
        self,
        leg: str,
        close: Decimal,
        z: float,
        lines: tuple[float, float],
        scale: float,
        confidence: float,
        reason: str,
    ) -> None:
        """Buy ``leg``; stop and target where z would reach ``lines`` (stop, exit)."""
        stop, target = (float(close) * math.exp((line - z) * scale) for line in lines)
        quantity = self.ctx.portfolio.equity() * self.params.notional_pct / close
        order = self.ctx.buy(
            leg, quantity, stop_loss=stop, take_profit=target, confidence=confidence, reason=reason
        )
        if order is not None:
            self.signals += 1
            self._armed[leg == self.leg_b] = False

    def confidence(self, pvalue: float, z: float) -> float:
        """Entry confidence in [0.5, 1] past the entry line: ``1 - ½ (p/p_max)(entry_z/|z|)``."""
        p = self.params
        return 1.0 - 0.5 * (pvalue / p.pvalue_max) * (p.entry_z / max(abs(z), p.entry_z))

    def _state(self) -> dict[str, Any]:
        return {
            "tracker": self._tracker.snapshot(),
            "history": [list(point) for point in self._history],
            "last": {leg: [ts, str(close)] for leg, (ts, close) in self._last.items()},
            "since_test": self._since_test,
            "armed": self._armed,
            "pvalue": self.pvalue,
            "pairs": self.pairs,
            "signals": self.signals,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        self._tracker.restore(state["tracker"])
        self._history.extend((float(a), float(b)) for a, b in state["history"])
        self._last = {leg: (int(ts), Decimal(close)) for leg, (ts, close) in state["last"].items()}
        self._since_test = int(state["since_test"])
        self._armed = [bool(v) for v in state["armed"]]
        self.pvalue = None if state["pvalue"] is None else float(state["pvalue"])
        self.pairs = int(state["pairs"])
        self.signals = int(state["signals"])
