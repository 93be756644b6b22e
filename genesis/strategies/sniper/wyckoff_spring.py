"""``wyckoff_spring`` (Sniper/Hunter, SPEC AN-8): trade the Wyckoff analyzer's accumulation signals.

Rule, on each bar's close, long only (spot), per instrument. The bar goes to a
:class:`~genesis.analytics.wyckoff.WyckoffAnalyzer` first; only the events it
returns for this bar are acted on, i.e. events whose ``detected_ts`` is this
bar (an automatic rally confirmed ten bars late is never traded as if it had
been known at its extreme):

* entry when flat with no working order, on

  - a SPRING (it only happens inside an accumulation): stop loss
    ``stop_buffer`` x H below the spring's low, take profit at the range's
    resistance (H is the range height, resistance - support);
  - a SIGN_OF_STRENGTH out of an ACCUMULATION (one leaving a distribution
    upwards is not traded): stop loss ``stop_buffer`` x H below the range's
    support, take profit ``target_r`` times that risk above the close;

  the event's confidence is the order's; an event below ``min_confidence``
  (the tiers' 0.6 by default) is skipped. A market buy is sent at the close
  with the stop and target attached (the kernel places them as an OCO pair once
  the entry fills);
* exit when long: a SIGN_OF_WEAKNESS or an UPTHRUST (the event's confidence),
  or the analyzer's phase is MARKDOWN (its phase confidence). The working stop
  and target are cancelled and the position sold at market.

Size (ST-S3, as ``momentum_breakout``): fractional Kelly from the strategy's
own record (``ctx.performance``) blended with a prior, at most
``max_risk_per_trade`` (2%) of equity lost at the stop, and the position's
notional capped at ``max_position_pct`` of equity (the Sniper tier's 2%). A
record with no edge sizes to zero: the strategy stands aside (logged once as
``kelly_no_edge``).

State: each instrument's analyzer snapshot (JSON) and the signal count, with
the parameters' version id. A restore under the same parameters resumes bit
for bit; under others the analyzers warm up again (``max(lookback,
avg_window)`` bars) while a position keeps its stop and target.

Figures, honestly. The bundled BTCUSDT 1-minute month (2021-12-31 23:01 ->
2022-02-01 05:31 UTC), 1,000 USDT, 10 bps taker fees, Sniper tier (stop loss
required), default parameters; in sample is the first 30,000 bars (to
2022-01-21 19:00), out of sample the last 15,031 (the 21-24 January sell-off
included), each run on its own (fresh cash and Kelly record; the analyzer warms
up on the period's first 240 bars). "Kelly off" is ``kelly_min_trades=10000``:
the prior's capped 2% risk, so the 2% notional cap binds on every entry::

                          trades  won  net USDT   return    max DD  gross bps/trade  BTC
    in sample,  Kelly          5    1    -0.673   -0.067%  -0.092%      -47.8      -17.4%
    in sample,  Kelly off      9    1    -1.359   -0.136%  -0.160%      -56.3      -17.4%
    out sample, Kelly          4    3    +1.836   +0.184%  -0.067%     +250.8       +0.7%
    out sample, Kelly off      4    3    +1.836   +0.184%  -0.067%     +250.8       +0.7%
    month,      Kelly          5    1    -0.673   -0.067%  -0.092%      -47.8      -16.8%
    month,      Kelly off     13    4    +0.456   +0.046%  -0.226%      +38.2      -16.8%

The golden run (``python -m genesis backtest --strategy wyckoff_spring --cash
1000 --fee-bps 10 --tier sniper``) is the "month, Kelly" line: the in-sample
five trades (all SOS; one won), after which the record (1 win in 5) has no
Kelly edge and the strategy stands aside for the rest of the month. Kelly off,
the month's 13 entries are 11 SOS and 2 springs (the other 5 springs are below
0.6 confidence; SOS out of a distribution are not traded); 9 of the 13 exits
are stops or analyzer exits at a loss. Out of sample is positive, but on four
trades, and 1.25 of the 1.84 USDT is one trade (the SOS after the 2022-01-24
capitulation, which reached its 2R target): no evidence of an edge yet, so the
bundled config (``sniper-wyckoff-btc.yaml``) ships disabled. The defaults were
written from the textbook rules and not tuned: with a dozen signals a month a
parameter search would only fit noise.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from genesis.analytics.wyckoff import (
    WyckoffAnalyzer,
    WyckoffEvent,
    WyckoffEventType,
    WyckoffParams,
    WyckoffPhase,
)
from genesis.core.enums import OrderType
from genesis.core.events import Bar
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.kelly import KellyGate, KellyParams
from genesis.strategies.registry import register

__all__ = ["WyckoffSpring", "WyckoffSpringParams"]

E = WyckoffEventType
_EXITS = {E.SIGN_OF_WEAKNESS: "sign_of_weakness", E.UPTHRUST: "upthrust"}


class WyckoffSpringParams(KellyParams):
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    stop_buffer: float = Field(default=0.1, ge=0, le=10)  # x range height below the stop level
    target_r: float = Field(default=2.0, gt=0, le=100)  # an SOS's target, in multiples of risk
    max_position_pct: Decimal = Field(default=Decimal("0.02"), gt=0, le=1)
    wyckoff: WyckoffParams = Field(default_factory=WyckoffParams)


@register("wyckoff_spring", tiers=(Tier.SNIPER, Tier.HUNTER), spec=("AN-8",))
class WyckoffSpring(Strategy[WyckoffSpringParams]):
    """Buy a spring or a sign of strength out of an accumulation; sell on weakness."""

    Params = WyckoffSpringParams

    def on_start(self) -> None:
        p = self.params
        self._analyzers = {i: WyckoffAnalyzer(p.wyckoff) for i in self.instruments}
        self.signals = 0
        self._kelly = KellyGate(p, self.ctx)

    def on_bar(self, bar: Bar) -> None:
        analyzer = self._analyzers[bar.instrument_id]
        phase, trading_range = analyzer.phase, analyzer.trading_range  # before this bar
        events = analyzer.update_bar(bar)
        instrument = bar.instrument_id
        working = self.ctx.open_orders(instrument)
        if any(o.order_type is OrderType.MARKET for o in working):
            return  # an entry or an exit is on its way: wait for its fill
        position = self.ctx.position(instrument)
        if position > 0:
            self._maybe_exit(instrument, events, analyzer)
        elif position == 0 and not working and trading_range is not None:
            self._maybe_enter(bar, events, phase, trading_range)

    def entry_levels(
        self, event: WyckoffEvent, close: float, trading_range: tuple[float, float]
    ) -> tuple[float, float]:
        """(stop loss, take profit) of an entry at ``close`` on a spring or an SOS."""
        support, resistance = trading_range
        buffer = self.params.stop_buffer * (resistance - support)
        if event.kind is E.SPRING:
            return event.price - buffer, resistance
        stop = support - buffer
        return stop, close + self.params.target_r * (close - stop)

    def _maybe_enter(
        self,
        bar: Bar,
        events: list[WyckoffEvent],
        phase: WyckoffPhase | None,
        trading_range: tuple[float, float],
    ) -> None:
        if phase is not WyckoffPhase.ACCUMULATION:
            return
        signal = next((e for e in events if e.kind in (E.SPRING, E.SIGN_OF_STRENGTH)), None)
        if signal is None or signal.confidence < self.params.min_confidence:
            return
        close = float(bar.close)
        stop, target = self.entry_levels(signal, close, trading_range)
        if not 0.0 < stop < close < target:
            return
        qty = self.quantity(bar.close, Decimal(repr(stop)))
        if qty == 0:
            return
        order = self.ctx.buy(
            bar.instrument_id,
            qty,
            stop_loss=stop,
            take_profit=target,
            confidence=signal.confidence,
            reason="spring" if signal.kind is E.SPRING else "sign_of_strength",
        )
        if order is not None:
            self.signals += 1

    def quantity(self, close: Decimal, stop: Decimal) -> Decimal:
        """Kelly's quantity for an entry at ``close`` with ``stop``, within the notional cap."""
        equity = self.ctx.portfolio.equity()
        risk = self.risk_fraction()
        if risk == 0:
            return Decimal(0)
        return min(
            self._kelly.quantity(equity, close, stop, risk),
            equity * self.params.max_position_pct / close,
        )

    def risk_fraction(self) -> Decimal:
        """Kelly's share of equity to risk on the next entry, from this strategy's record."""
        return self._kelly.risk_fraction()

    def _maybe_exit(
        self, instrument: str, events: list[WyckoffEvent], analyzer: WyckoffAnalyzer
    ) -> None:
        weakness = next((e for e in events if e.kind in _EXITS), None)
        if weakness is not None:
            confidence, reason = weakness.confidence, _EXITS[weakness.kind]
        elif analyzer.phase is WyckoffPhase.MARKDOWN:
            confidence, reason = analyzer.phase_confidence, "markdown"
        else:
            return
        self.ctx.close(instrument, confidence=confidence, reason=reason)

    def _state(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "no_edge": self._kelly.standing_aside,
            "params": self.params.version_id(),
            "analyzers": {i: a.snapshot() for i, a in self._analyzers.items()},
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        self.signals = int(state.get("signals", 0))
        self._kelly.standing_aside = bool(state.get("no_edge", False))
        if state.get("params") != self.params.version_id():
            return  # other parameters: the analyzers warm up again
        for instrument, saved in state.get("analyzers", {}).items():
            if instrument in self._analyzers:
                self._analyzers[instrument].restore(saved)
