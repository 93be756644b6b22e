"""Transaction cost analysis per parent order (SPEC ST-X6): before, during and after.

Theory of operation
-------------------
An execution algorithm opens a *parent order* (``ctx.start_parent``: instrument,
side, quantity, algorithm, horizon) and works it with child orders whose
``correlation_id`` is the parent's id. The kernel's ``TcaBook`` then:

* at the start, records the *arrival price* (the mid of the book or quote if
  one is known, else the last trade) and a *pre-trade cost estimate*: half the
  spread, plus the walk of the visible book for the whole quantity
  (``analytics.liquidity.expected_slippage_bps``), plus the taker fee;
* while it is open, adds each child fill (quantity, notional, fee) and every
  market trade print of the instrument (for the interval VWAP);
* at the finish (``ctx.finish_parent``, or the session's end), writes a
  ``TcaRecord``.

All cost figures are in basis points, signed so that a positive number is a
cost to the parent's side (a buy paying more, a sell receiving less):

* ``slippage_arrival_bps`` = side x (average fill price - arrival) / arrival;
* ``slippage_vwap_bps`` = side x (average fill price - interval VWAP) / VWAP,
  the VWAP of the market's trades between start and finish (None without trades,
  e.g. on bars);
* ``impact_bps`` = side x (mid at the finish - arrival) / arrival: how far the
  market moved in the parent's direction while it traded (the part its own
  orders caused cannot be told apart from drift on one path: stated, not hidden);
* ``fees_bps`` = fees / filled notional; ``fill_ratio`` = filled / quantity.

Prices and quantities are exact Decimals while they accumulate; the basis-point
figures are floats (analytics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genesis.core.enums import Side
from genesis.core.events import OrderFilled, TradeTick
from genesis.core.money import ZERO

__all__ = ["ParentOrder", "TcaBook", "TcaRecord"]

_BPS = 10_000.0
_NS = 1_000_000_000


@dataclass(slots=True)
class ParentOrder:
    """A parent order while it is worked (mutable; the kernel's own)."""

    parent_id: str
    strategy_id: str
    instrument_id: str
    side: Side
    quantity: Decimal
    algo: str
    horizon_ns: int
    start_ns: int
    arrival_price: Decimal | None
    pretrade_cost_bps: float | None
    filled_qty: Decimal = ZERO
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    fills: int = 0
    children: set[str] = field(default_factory=set)
    market_qty: Decimal = ZERO
    market_notional: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TcaRecord:
    """The post-trade analysis of one parent order (see the module docstring)."""

    parent_id: str
    strategy_id: str
    instrument_id: str
    algo: str
    side: Side
    quantity: Decimal
    filled_qty: Decimal
    children: int
    fills: int
    start_ns: int
    end_ns: int
    horizon_ns: int
    arrival_price: Decimal | None
    average_price: Decimal | None
    interval_vwap: Decimal | None
    finish_mid: Decimal | None
    fees: Decimal
    pretrade_cost_bps: float | None
    slippage_arrival_bps: float | None
    slippage_vwap_bps: float | None
    impact_bps: float | None
    fees_bps: float | None
    reason: str

    @property
    def fill_ratio(self) -> float:
        return float(self.filled_qty / self.quantity) if self.quantity else 0.0

    def as_fields(self) -> dict[str, Any]:
        """Plain JSON/CSV-ready values."""
        return {
            "parent_id": self.parent_id,
            "strategy": self.strategy_id,
            "instrument": self.instrument_id,
            "algo": self.algo,
            "side": self.side.value,
            "quantity": _text(self.quantity),
            "filled": _text(self.filled_qty),
            "fill_ratio": round(self.fill_ratio, 6),
            "children": self.children,
            "fills": self.fills,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "duration_s": round((self.end_ns - self.start_ns) / _NS, 3),
            "horizon_s": round(self.horizon_ns / _NS, 3),
            "arrival_price": _text(self.arrival_price),
            "average_price": _text(self.average_price),
            "interval_vwap": _text(self.interval_vwap),
            "finish_mid": _text(self.finish_mid),
            "fees": _text(self.fees),
            "pretrade_cost_bps": _round(self.pretrade_cost_bps),
            "slippage_arrival_bps": _round(self.slippage_arrival_bps),
            "slippage_vwap_bps": _round(self.slippage_vwap_bps),
            "impact_bps": _round(self.impact_bps),
            "fees_bps": _round(self.fees_bps),
            "reason": self.reason,
        }


class TcaBook:
    """The open parent orders of a session and what their children and the market did."""

    def __init__(self) -> None:
        self._open: dict[str, ParentOrder] = {}
        self._by_instrument: dict[str, int] = {}  # instrument -> open parents on it
        self._seq = 0

    def __bool__(self) -> bool:
        return bool(self._open)

    def get(self, parent_id: str) -> ParentOrder | None:
        return self._open.get(parent_id)

    def open_parents(self) -> list[ParentOrder]:
        return list(self._open.values())

    def start(
        self,
        *,
        strategy_id: str,
        instrument_id: str,
        side: Side,
        quantity: Decimal,
        algo: str,
        horizon_ns: int,
        now_ns: int,
        arrival_price: Decimal | None,
        pretrade_cost_bps: float | None,
    ) -> ParentOrder:
        """Open a parent order; its id is ``<strategy>-P<n>-<start ns>`` (deterministic)."""
        self._seq += 1
        parent = ParentOrder(
            parent_id=f"{strategy_id}-P{self._seq}-{now_ns}",
            strategy_id=strategy_id,
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            algo=algo,
            horizon_ns=horizon_ns,
            start_ns=now_ns,
            arrival_price=arrival_price,
            pretrade_cost_bps=pretrade_cost_bps,
        )
        self._open[parent.parent_id] = parent
        self._by_instrument[instrument_id] = self._by_instrument.get(instrument_id, 0) + 1
        return parent

    def on_fill(self, fill: OrderFilled, parent_id: str, fee_in_quote: Decimal) -> None:
        """A child's fill (``parent_id`` is the child's correlation id)."""
        parent = self._open.get(parent_id)
        if parent is None or fill.side is not parent.side:
            return  # an exit attached to a child (same correlation id) is not execution
        parent.filled_qty += fill.last_qty
        parent.notional += fill.last_qty * fill.last_px
        parent.fees += fee_in_quote
        parent.fills += 1
        parent.children.add(fill.client_order_id)

    def on_trade(self, trade: TradeTick) -> None:
        """A market print: counted in every open parent on its instrument (interval VWAP)."""
        if trade.instrument_id not in self._by_instrument:
            return
        for parent in self._open.values():
            if parent.instrument_id == trade.instrument_id:
                parent.market_qty += trade.size
                parent.market_notional += trade.size * trade.price

    def finish(
        self, parent_id: str, now_ns: int, finish_mid: Decimal | None, reason: str
    ) -> TcaRecord | None:
        """Close ``parent_id``; its analysis (None when no such open parent)."""
        parent = self._open.pop(parent_id, None)
        if parent is None:
            return None
        left = self._by_instrument[parent.instrument_id] - 1
        if left:
            self._by_instrument[parent.instrument_id] = left
        else:
            del self._by_instrument[parent.instrument_id]
        return _record(parent, now_ns, finish_mid, reason)


def _record(p: ParentOrder, now_ns: int, finish_mid: Decimal | None, reason: str) -> TcaRecord:
    sign = 1.0 if p.side is Side.BUY else -1.0
    average = p.notional / p.filled_qty if p.filled_qty else None
    vwap = p.market_notional / p.market_qty if p.market_qty else None
    return TcaRecord(
        parent_id=p.parent_id,
        strategy_id=p.strategy_id,
        instrument_id=p.instrument_id,
        algo=p.algo,
        side=p.side,
        quantity=p.quantity,
        filled_qty=p.filled_qty,
        children=len(p.children),
        fills=p.fills,
        start_ns=p.start_ns,
        end_ns=now_ns,
        horizon_ns=p.horizon_ns,
        arrival_price=p.arrival_price,
        average_price=average,
        interval_vwap=vwap,
        finish_mid=finish_mid,
        fees=p.fees,
        pretrade_cost_bps=p.pretrade_cost_bps,
        slippage_arrival_bps=_bps(sign, average, p.arrival_price),
        slippage_vwap_bps=_bps(sign, average, vwap),
        impact_bps=_bps(sign, finish_mid, p.arrival_price),
        fees_bps=float(p.fees / p.notional) * _BPS if p.notional else None,
        reason=reason,
    )


def _bps(sign: float, price: Decimal | None, reference: Decimal | None) -> float | None:
    if price is None or reference is None or reference == 0:
        return None
    return sign * float((price - reference) / reference) * _BPS


def _text(value: Decimal | None) -> str | None:
    """Plain decimal text (no exponent), a computed average cut to 10 decimals."""
    if value is None:
        return None
    if value.as_tuple().exponent < -10:  # type: ignore[operator]
        value = value.quantize(Decimal("1e-10"))
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
