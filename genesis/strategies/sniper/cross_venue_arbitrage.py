"""``cross_venue_arbitrage`` (Sniper, SPEC ST-S1): cross-venue spread capture.

One symbol on two (or more) venues, e.g. ``BTCUSD`` (Binance) and
``bybit:BTCUSD``. On every top-of-book update (quotes, or L2 books) with all
venues fresh (each updated within ``max_quote_age_ms`` of event time):

1. observe, for every ordered pair of venues, the edge of buying at one's
   ask and selling at the other's bid, net of both venues' taker fees
   (``genesis.analytics.arbitrage``), in a persistence test per direction
   (``genesis.analytics.ranking``: the last ``persistence_min_consecutive``
   edges above ``threshold_bps`` and a one-sided test of the window's mean,
   ``p < persistence_alpha``);
2. when flat, an opportunity (net edge >= ``threshold_bps``, default 30 bps)
   whose direction is significant and whose risk-adjusted score is positive
   (fill probability Phi(edge / sd) x expected profit - ``risk_aversion`` x
   sd, sd the standard deviation of the edge's changes, at least
   ``edge_stdev_floor_bps``) is an entry: a market **buy on the cheap venue**
   with a stop loss ``stop_loss_bps`` under its ask and a take profit at the
   rich venue's bid (where the cheap venue's price would converge to);
   confidence = fill probability x (1 - p-value), skipped below
   ``min_confidence``;
3. while long, the position is closed at market on the same venue when the
   gross edge has closed (at most ``exit_bps``) or after ``max_hold_s``,
   unless the stop or the target closed it first.

Why spread capture and not a simultaneous buy and sell. A spot account can
sell only base it holds, and backtest and paper seed each venue with quote
currency only (``backtesting/multi.py``), so the rich venue has nothing to
sell. The strategy therefore captures the convergence on the cheap venue
alone: it is long the asset while it holds, a directional exposure the stop
bounds. A two-legged arbitrage needs base inventory on every venue (seeded
balances, and a per-venue balance in the strategy's portfolio view).

Size: the opportunity's depth-limited size (every unit clearing the
threshold), capped at ``max_notional_fraction`` of equity at the ask, rounded
down to the instrument's step. The threshold is net of the strategy's fee
parameters (``fee_bps``, ``venue_fee_bps``), which should match the venues'.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from itertools import permutations
from typing import Any, Final, Literal

from pydantic import Field, model_validator

from genesis.analytics.arbitrage import CrossVenueArbitrage, Opportunity
from genesis.analytics.ranking import PersistenceTest, RollingStats, score
from genesis.core.events import BookDelta, BookSnapshot, QuoteTick
from genesis.core.instruments import split_instrument_id
from genesis.errors import ConfigError
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

__all__ = ["CrossVenueArbitrageParams", "CrossVenueArbitrageStrategy"]

_NS_PER_MS: Final = 1_000_000
_NS_PER_S: Final = 1_000_000_000
_BPS: Final = Decimal(10_000)


class CrossVenueArbitrageParams(StrategyParams):
    threshold_bps: float = Field(default=30.0, ge=0, le=10_000)
    fee_bps: float = Field(default=10.0, ge=0, le=1_000)  # taker fee of a venue not listed below
    venue_fee_bps: dict[str, float] = Field(default_factory=dict)  # venue -> taker fee
    max_notional_fraction: Decimal = Field(default=Decimal("0.02"), gt=0, le=1)
    max_quote_age_ms: int = Field(default=1_000, ge=0)
    persistence_window: int = Field(default=30, ge=2, le=10_000)
    persistence_min_samples: int = Field(default=10, ge=2, le=10_000)
    persistence_min_consecutive: int = Field(default=3, ge=1, le=10_000)
    persistence_alpha: float = Field(default=0.05, gt=0, lt=1)
    persistence_method: Literal["t", "sign"] = "t"
    risk_aversion: float = Field(default=1.0, ge=0, le=100)
    edge_stdev_floor_bps: float = Field(default=1.0, gt=0, le=10_000)
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    stop_loss_bps: float = Field(default=50.0, gt=0, lt=10_000)
    exit_bps: float = Field(default=0.0, ge=-10_000, le=10_000)
    max_hold_s: int = Field(default=3_600, gt=0)

    @model_validator(mode="after")
    def _samples_fit_the_window(self) -> CrossVenueArbitrageParams:
        if self.persistence_min_samples > self.persistence_window:
            raise ValueError(
                f"persistence_min_samples {self.persistence_min_samples} exceeds"
                f" persistence_window {self.persistence_window}"
            )
        if any(fee < 0 for fee in self.venue_fee_bps.values()):
            raise ValueError(f"venue_fee_bps {self.venue_fee_bps} holds a negative fee")
        return self


class _Direction:
    """The observed net edges of buying on one venue and selling on another."""

    __slots__ = ("changes", "edges", "last", "test")

    def __init__(self, p: CrossVenueArbitrageParams) -> None:
        self.test = PersistenceTest(
            p.threshold_bps, window=p.persistence_window, min_samples=p.persistence_min_samples,
            min_consecutive=p.persistence_min_consecutive, alpha=p.persistence_alpha,
            method=p.persistence_method,
        )  # fmt: skip
        self.changes = RollingStats(p.persistence_window)
        # for the snapshot: one more edge than the window gives the window's changes too
        self.edges: deque[float] = deque(maxlen=p.persistence_window + 1)
        self.last: float | None = None

    def observe(self, edge: float) -> None:
        if self.last is not None:
            self.changes.push(edge - self.last)
        self.last = edge
        self.edges.append(edge)
        self.test.update(edge)


@register("cross_venue_arbitrage", tiers=(Tier.SNIPER,), spec=("ST-S1",))
class CrossVenueArbitrageStrategy(Strategy[CrossVenueArbitrageParams]):
    """Buy the venue quoting below another by a significant net edge; sell when it converges."""

    Params = CrossVenueArbitrageParams

    def on_start(self) -> None:
        p = self.params
        self._venues = _venues(self.instruments)
        fees = {v: p.venue_fee_bps.get(v, p.fee_bps) for v in self._venues}
        self._detector = CrossVenueArbitrage(
            fees, threshold_bps=p.threshold_bps, max_age_ns=p.max_quote_age_ms * _NS_PER_MS
        )
        self._directions = {pair: _Direction(p) for pair in permutations(self._venues, 2)}
        self._held: dict[str, Any] | None = None  # instrument, buy/sell venue, since, closing
        self.signals = 0

    def on_quote(self, quote: QuoteTick) -> None:
        found = self._detector.on_quote(quote)
        self._on_update(quote.ts_init, found)

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        book = self.ctx.market.book(update.instrument_id)
        if book is not None:
            found = self._detector.on_book(update.instrument_id, update.ts_init, book)
            self._on_update(update.ts_init, found)

    def _on_update(self, ts: int, found: Opportunity | None) -> None:
        fresh = self._fresh(ts)
        if fresh:
            for (buy, sell), direction in self._directions.items():
                edge = self._detector.edge_bps(buy, sell)
                if edge is not None:
                    direction.observe(edge)
        if self._held is not None:
            self._manage(ts, fresh)
        elif fresh and found is not None:
            self._maybe_enter(found, ts)

    def _fresh(self, ts: int) -> bool:
        limit = self.params.max_quote_age_ms * _NS_PER_MS
        for venue in self._venues:
            seen = self._detector.last_update_ns(venue)
            if seen is None or ts - seen > limit:
                return False
        return True

    def _maybe_enter(self, found: Opportunity, ts: int) -> None:
        p = self.params
        direction = self._directions[(found.buy_venue, found.sell_venue)]
        verdict = direction.test.verdict()
        if not verdict.significant:
            return
        # the score's sign does not depend on the size (both terms scale with it)
        ranked = score(
            found, max(direction.changes.stdev(), p.edge_stdev_floor_bps),
            risk_aversion=p.risk_aversion,
        )  # fmt: skip
        confidence = ranked.fill_probability * (1.0 - verdict.p_value)
        if ranked.score <= 0 or confidence < p.min_confidence:
            return
        self._enter(found, ts, confidence)

    def _enter(self, found: Opportunity, ts: int, confidence: float) -> None:
        p = self.params
        instrument = self._venues[found.buy_venue]
        ask = found.best_ask
        budget = self.ctx.portfolio.equity() * p.max_notional_fraction / ask
        order = self.ctx.buy(
            instrument, min(found.qty, budget),
            stop_loss=ask * (1 - Decimal(str(p.stop_loss_bps)) / _BPS),
            take_profit=found.best_bid, confidence=confidence,
            reason=f"buy {found.buy_venue} {found.net_bps:.2f} bps under {found.sell_venue}",
        )  # fmt: skip
        if order is None:
            return
        self.signals += 1
        self._held = {
            "instrument": instrument, "buy": found.buy_venue, "sell": found.sell_venue,
            "since": ts, "closing": False,
        }  # fmt: skip

    def _manage(self, ts: int, fresh: bool) -> None:
        held = self._held
        assert held is not None
        instrument = held["instrument"]
        position = self.ctx.position(instrument)
        if position == 0 and not self.ctx.open_orders(instrument):
            self._held = None  # closed by its stop or target, or the entry never filled
            return
        if position == 0 or held["closing"]:
            return  # the entry, or our close, is still working
        gross = self._detector.edge_bps(held["buy"], held["sell"], net=False) if fresh else None
        converged = gross is not None and gross <= self.params.exit_bps
        if converged or ts - held["since"] >= self.params.max_hold_s * _NS_PER_S:
            held["closing"] = True
            self.ctx.close(instrument, reason="converged" if converged else "max hold")

    # --- state -----------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "held": self._held,
            "edges": {f"{b}>{s}": list(d.edges) for (b, s), d in self._directions.items()},
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        self.signals = int(state.get("signals", 0))
        self._held = state.get("held")
        for key, edges in state.get("edges", {}).items():
            buy, _, sell = key.partition(">")
            direction = self._directions.get((buy, sell))
            if direction is None:
                continue
            for edge in edges:  # replayed: the test and the stdev are rebuilt from them
                direction.observe(float(edge))


def _venues(instruments: tuple[str, ...]) -> dict[str, str]:
    """venue -> instrument id; one symbol on at least two distinct venues."""
    split = [split_instrument_id(i) for i in instruments]
    venues = {venue: iid for iid, (venue, _) in zip(instruments, split, strict=True)}
    symbols = {symbol for _, symbol in split}
    if len(venues) < 2 or len(venues) != len(instruments) or len(symbols) != 1:
        raise ConfigError(
            f"cross_venue_arbitrage needs one symbol on two or more distinct venues,"
            f" was {', '.join(instruments)}"
        )
    return venues
