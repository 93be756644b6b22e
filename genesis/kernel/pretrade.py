"""What risk sees of an order, assembled from the kernel's state (SPEC RK-1).

The kernel asks ``PreTrade.refusal(order)`` before it sends anything. In order:

* the order's *decision price* is stamped (what its fills' slippage is measured
  from): the market price when the strategy decided; a stop's trigger; an
  attached exit's own price;
* the regime gate (ST-H4): an entry of a strategy its regime has switched off
  on this instrument is refused as ``REGIME_OFF`` (exits always pass);
* no price seen yet for the instrument: ``NO_MARKET_PRICE``;
* the risk engine's checks, on a ``RiskInput`` snapshot built lazily: free
  quote and base net of what open orders reserve (an OCO list locks once, a
  cancel in flight reserves nothing, each venue's account funds only its own
  orders), the strategy's position, equity, and how many positions are open
  or being opened across every strategy. With a tier, an entry (an order
  that grows its strategy's position, not reduce-only) also gets the figures
  only entries are checked on: gross exposure after it (every instrument's
  aggregate position at its mark, the order's at the reference price; working
  orders are not counted: they are in the cash check), its expected slippage
  (``MarketView.expected_slippage``) and the held instrument whose returns move
  most with it (``EventSampler`` correlation times the two directions' signs,
  so the other leg of a hedge is not refused; held instruments with fewer
  aligned returns than the tier's minimum are skipped: before then the check
  does not apply; so are those of the same base asset, on this venue or
  another: that is one exposure, which position size and leverage govern, not
  a second, correlated one).
* an instrument traded on margin (``Instrument.margin_rate``: FX) is not paid for
  in cash: a sell without the base opens a short. The check gets the margin the
  order adds and the margin available (equity less every margin instrument's
  margin at its mark, positions and working orders netted: ``genesis.core.margin``),
  in the portfolio's currency (``_margin``).

It holds references to the kernel's live collections (the reduce-only and OCO
sets, the stop-loss requirement), never copies, so it always sees what the
kernel sees.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from genesis.core.instruments import Instrument, split_instrument_id
from genesis.core.margin import exposure_units, in_account, order_margin
from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.execution.oms import OrderManager
from genesis.kernel.market import MarketView
from genesis.kernel.regimes import RegimeSwitch
from genesis.kernel.reserve import ReserveIndex
from genesis.portfolio.positions import Portfolio
from genesis.risk.checks import RiskInput
from genesis.risk.engine import RiskEngine

__all__ = ["PreTrade"]


class PreTrade:
    """The kernel's pre-trade gate: decision price, regime gate, risk checks."""

    def __init__(
        self,
        *,
        instruments: Callable[[str], Instrument],
        portfolio: Portfolio,
        oms: OrderManager,
        market: MarketView,
        risk: RiskEngine,
        fee_rate: Decimal,
        reduce_only: set[str],
        oco_group: dict[str, str],
        requires_stop_loss: set[str],
        now: Callable[[], int] = lambda: 0,
    ) -> None:
        self._instruments = instruments
        self._now = now
        self._portfolio = portfolio
        self._oms = oms
        self._market = market
        self._risk = risk
        self._fee_rate = fee_rate
        self._reduce_only = reduce_only
        self._oco_group = oco_group
        self._requires_stop_loss = requires_stop_loss
        self.regimes: RegimeSwitch | None = None  # set by the kernel when a strategy is gated
        self._index = ReserveIndex(
            instruments=instruments, market_price=market.price, fee_rate=fee_rate,
            per_venue=bool(portfolio.per_venue), reduce_only=reduce_only, oco_group=oco_group,
        )  # fmt: skip
        oms.listener = self._index.update  # kept current by every order change
        # a compliance rule set (now or after a reload) reads positions, lots and the clock
        risk.attach_compliance(portfolio, instruments, now)

    def refusal(self, order: Order) -> tuple[str, str] | None:
        """Stamp the order's decision price, then the first refusal (code, sentence) of the
        regime gate, the market-price check and the risk engine; None when it may go."""
        market = self._market.price(order.instrument_id)
        if order.decision_price is None:
            order.decision_price = self._decision_price(order, market)
        reference = order.price or order.trigger_price or market
        if self.regimes is not None and not self.regimes.allows(
            order.strategy_id, order.instrument_id
        ):
            gated = self._regime_refusal(order)
            if gated is not None:
                return gated
        if reference is None:
            return ("NO_MARKET_PRICE", f"no price seen yet for {order.instrument_id}")
        refusal = self._risk.check(order, lambda: self._risk_input(order, reference), self._now())
        return None if refusal is None else (refusal.code, refusal.message)

    def _risk_input(self, order: Order, reference: Decimal) -> RiskInput:
        inst = self._instruments(order.instrument_id)
        # several venues: only this venue's account funds the order
        venue = split_instrument_id(order.instrument_id)[0] if self._portfolio.per_venue else None
        reserved_quote, reserved_base = self._reserved(inst, order.client_order_id, venue)
        # equity and position feed the tier checks and the kill switch's "reduces" test only
        tiered = self._risk.limits is not None or self._risk.kill_switch is not None
        position = (
            self._portfolio.position_qty(order.instrument_id, order.strategy_id) if tiered else ZERO
        )
        reduce_only = order.client_order_id in self._reduce_only
        margin = self._margin(order, inst, reference) if inst.margin_rate is not None else None
        # the open-position count is read only for an entry from flat (check_open_positions)
        counted = self._risk.limits is not None and position == 0 and not reduce_only
        increases = abs(position + order.side.sign * order.quantity) > abs(position)
        entry = self._risk.limits is not None and increases and not reduce_only
        return RiskInput(
            instrument=inst,
            reference_price=reference,
            equity=self._portfolio.equity() if tiered else ZERO,
            free_quote=self._portfolio.balance(inst.quote, venue) - reserved_quote,
            free_base=self._portfolio.balance(inst.base, venue) - reserved_base,
            position_qty=position,
            fee_rate=self._fee_rate,
            tier=self._risk.tier,
            limits=self._risk.limits,
            requires_stop_loss=order.strategy_id in self._requires_stop_loss,
            reduce_only=reduce_only,
            open_positions=self._open_positions(order) if counted else 0,
            increases=increases,
            gross_after=self._gross_after(order, reference) if entry else None,
            expected_slippage=self._market.expected_slippage(
                order.instrument_id, order.side, order.quantity, order.price
            )
            if entry
            else None,
            correlated=self._correlated(order) if entry else None,
            margin_needed=None if margin is None else margin[0],
            margin_available=None if margin is None else margin[1],
            margin_currency=self._portfolio.base_currency,
        )

    def _margin(
        self, order: Order, inst: Instrument, reference: Decimal
    ) -> tuple[Decimal, Decimal] | None:
        """(margin ``order`` adds, margin available besides it) in the portfolio's
        currency; None when a pair's margin cannot be stated in it (a cross)."""
        account = self._portfolio.base_currency
        own = order.instrument_id
        iids = {iid for _, iid in self._portfolio.open_position_keys()}
        iids.update(self._index.margin_instruments())
        iids.add(own)
        used = ZERO
        needed = ZERO
        for iid in sorted(iids):
            other = self._instruments(iid)
            rate = other.margin_rate
            if rate is None:
                continue
            price = self._market.price(iid) or self._portfolio.mark_price(iid)
            if iid == own:
                price = price or reference
            if price is None:
                continue  # no price yet: nothing to value it at (it holds no position)
            position = self._portfolio.position_qty(iid)
            buys, sells = self._index.pending(iid, order.client_order_id)
            amount = rate * price * exposure_units(position, buys, sells)
            if iid == own:
                add = order_margin(rate, price, position, buys, sells, order.side, order.quantity)
                stated = in_account(add, price, other.quote, other.base, account)
                if stated is None:
                    return None
                needed = stated
            stated = in_account(amount, price, other.quote, other.base, account)
            if stated is None:
                return None
            used += stated
        return needed, self._portfolio.equity() - used

    def _gross_after(self, order: Order, reference: Decimal) -> Decimal:
        """Gross exposure with ``order`` filled: every instrument's aggregate position at
        its mark, the order's instrument at ``reference``."""
        own = order.instrument_id
        gross = self._portfolio.gross_exposure(excluding=own)
        after = self._portfolio.position_qty(own) + order.side.sign * order.quantity
        inst = self._instruments(own)
        if inst.base == self._portfolio.base_currency != inst.quote:
            return gross + abs(after)  # units of the account currency (USD_JPY, USD account)
        return gross + abs(after) * reference

    def _correlated(self, order: Order) -> tuple[str, float, int] | None:
        """The held instrument whose returns move most with ``order``'s (see the module
        docstring), its direction-signed correlation and sample count; None if none."""
        sampler, limits = self._risk.sampler, self._risk.limits
        if sampler is None or limits is None or not self._portfolio.has_open_positions():
            return None
        held = sorted({iid for _, iid in self._portfolio.open_position_keys()})
        base = self._instruments(order.instrument_id).base
        found: tuple[str, float, int] | None = None
        for iid in held:
            if self._instruments(iid).base == base:
                continue  # the same asset (on another venue): size and leverage govern it
            corr, n = sampler.correlation(order.instrument_id, iid)
            if corr is None or n < limits.min_correlation_samples:
                continue
            qty = self._portfolio.position_qty(iid)
            signed = corr * order.side.sign * (1 if qty > 0 else -1)
            if found is None or signed > found[1]:
                found = (iid, signed, n)
        return found

    def _regime_refusal(self, order: Order) -> tuple[str, str] | None:
        """An entry of a strategy switched off on this instrument by its regime."""
        held = self._portfolio.position_qty(order.instrument_id, order.strategy_id)
        after = held + order.side.sign * order.quantity
        if order.client_order_id in self._reduce_only or abs(after) <= abs(held):
            return None  # an exit: always allowed
        assert self.regimes is not None
        regime = self.regimes.regime(order.instrument_id)
        now = "unknown (warming up)" if regime is None else regime.value
        self._risk.rejections["REGIME_OFF"] += 1
        return (
            "REGIME_OFF",
            f"{order.strategy_id} trades {order.instrument_id} only in its configured regimes;"
            f" the regime is {now}",
        )

    def _decision_price(self, order: Order, market: Decimal | None) -> Decimal | None:
        """What a fill's slippage is measured from: the market price when the strategy
        decided; for a stop its trigger, for an attached exit its own price."""
        if order.trigger_price is not None:
            return order.trigger_price
        if order.price is not None and order.client_order_id in self._reduce_only:
            return order.price
        return market or order.price

    def _open_positions(self, order: Order) -> int:
        """Positions held or being opened by working entries, across every strategy,
        other than the one ``order`` is on."""
        keys = self._portfolio.open_position_keys()
        keys.update(self._index.entry_keys())
        keys.discard((order.strategy_id, order.instrument_id))
        return len(keys)

    def _reserved(
        self, inst: Instrument, exclude: str, venue: str | None = None
    ) -> tuple[Decimal, Decimal]:
        """Quote and base that open orders on ``inst``'s assets (on ``venue``, when each
        venue's account is kept) may still consume (``reserve.ReserveIndex``)."""
        return self._index.reserved(inst, exclude, venue)
