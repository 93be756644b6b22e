"""Execution quality per fill (SPEC EX-6): slippage, latency, fill ratio, by venue and strategy.

Theory of operation
-------------------
The kernel feeds one ``FillQuality`` book from three places on the order path:

* ``on_submitted(order, now_ns)`` when an order passes the pre-trade gate and
  leaves for its venue: the submission time and the *arrival price* as far as
  it is known then (the mid of the instrument's book or quote, else its last
  price);
* ``on_event(event, order)`` for every other order event the OMS applied: an
  ``OrderAccepted`` (the venue has the order) records the acceptance time and
  replaces the arrival price with the mid at that moment; a terminal event
  closes the order's record and counts its *fill ratio* (filled / quantity);
* ``on_fill(fill, order)`` for each booked fill (never a duplicate).

Definitions, all per fill, signed so that a positive number is a cost to the
order's side (a buy paying more, a sell receiving less), as in ``tca.py``:

* ``slippage_decision_bps`` = side x (fill price - decision price) / decision
  price x 10,000; the decision price is the one the pre-trade gate stamped
  (``kernel/pretrade.py``: the market price when the strategy decided, a stop's
  trigger, an attached exit's own price);
* ``slippage_arrival_bps`` = the same against the arrival price (the mid when
  the venue accepted the order; for an order the venue answered with fills and
  no acknowledgement, as a market order is, the mid when it was submitted);
* ``slippage_cost`` = side x (fill price - decision price) x quantity, quote
  currency, exact ``Decimal`` (what P&L attribution charges to execution);
* ``fee_bps`` = the fee in quote currency / notional (a fee in a third
  currency, e.g. BNB, is not converted and not counted);
* latency, on an order's *first* fill only, in ns of event time: decision
  (the order's ``ts_init``, stamped by the factory when the strategy built it)
  -> submitted -> accepted -> first fill. Order events are timed by their
  ``ts_init``: in backtest and paper it equals ``ts_event`` (the simulated
  venue's time); live it is when the shell received the message, on the same
  clock as the submission, so the legs never mix the venue's clock with ours.
  A leg that did not happen (no acknowledgement) is None. For a resting order
  "accepted -> first fill" is its time in the book, not a network delay.

The breakdowns (``summary()``) group fills and finished orders by venue (the
fill's venue; an order never filled counts on the venue its instrument last
filled on, else the venue in its id) and by strategy: counts, filled notional,
mean / median / p95 of both slippages, fee bps, mean latency of each leg, mean
fill ratio. Money is exact ``Decimal`` while it accumulates; the bps and
latency figures are floats (analytics). Memory is bounded: open orders only,
plus, per group, the last ``window`` fills' slippage values for the median and
p95 (means and counts cover every fill), and the last ``recent`` fill records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from genesis.core.events import OrderAccepted, OrderEvent, OrderFilled
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.errors import ConfigError

__all__ = ["FillQuality", "FillQualityRecord"]

_BPS: Final = 10_000.0
_NS_PER_MS: Final = 1_000_000.0
_COST_QUANTUM: Final = Decimal("1e-12")  # per-fill slippage cost: sums stay exact
_LEGS: Final = ("decision_to_submit", "submit_to_accept", "accept_to_fill", "decision_to_fill")


@dataclass(frozen=True, slots=True, kw_only=True)
class FillQualityRecord:
    """The execution quality of one fill (see the module docstring for definitions)."""

    client_order_id: str
    strategy_id: str
    instrument_id: str
    venue: str
    side: str
    ts_event: int
    qty: Decimal
    price: Decimal
    notional: Decimal
    decision_price: Decimal | None
    arrival_price: Decimal | None
    slippage_decision_bps: float | None
    slippage_arrival_bps: float | None
    slippage_cost: Decimal | None
    fee_bps: float | None
    latency_ns: dict[str, int | None]

    def as_fields(self) -> dict[str, Any]:
        """Plain JSON-ready values (Decimals as text)."""
        return {
            "client_order_id": self.client_order_id,
            "strategy": self.strategy_id,
            "instrument": self.instrument_id,
            "venue": self.venue,
            "side": self.side,
            "ts_event": self.ts_event,
            "qty": _text(self.qty),
            "price": _text(self.price),
            "notional": _text(self.notional),
            "decision_price": _text(self.decision_price),
            "arrival_price": _text(self.arrival_price),
            "slippage_decision_bps": _round(self.slippage_decision_bps),
            "slippage_arrival_bps": _round(self.slippage_arrival_bps),
            "slippage_cost": _text(self.slippage_cost),
            "fee_bps": _round(self.fee_bps),
            "latency_ns": dict(self.latency_ns),
        }


@dataclass(slots=True)
class _Pending:
    """An order between submission and its end (the book's own, mutable)."""

    submit_ns: int
    arrival_price: Decimal | None
    accept_ns: int | None = None
    filled: bool = False
    venue: str = ""


@dataclass(slots=True)
class _Group:
    """Running figures of one breakdown cell (a venue, a strategy, or everything)."""

    window: int
    fills: int = 0
    notional: Decimal = ZERO
    fees: Decimal = ZERO  # quote currency, fills whose fee converts
    fee_notional: Decimal = ZERO  # notional of those fills
    decision: _Stat = field(init=False)
    arrival: _Stat = field(init=False)
    latency: dict[str, list[int]] = field(init=False)  # leg -> [sum ns, count]
    orders: int = 0  # finished orders
    orders_filled: int = 0  # finished completely filled
    fill_ratio_sum: float = 0.0

    def __post_init__(self) -> None:
        self.decision = _Stat(self.window)
        self.arrival = _Stat(self.window)
        self.latency = {leg: [0, 0] for leg in _LEGS}

    def add(self, record: FillQualityRecord, fee_quote: Decimal | None) -> None:
        self.fills += 1
        self.notional += record.notional
        if fee_quote is not None:
            self.fees += fee_quote
            self.fee_notional += record.notional
        self.decision.add(record.slippage_decision_bps)
        self.arrival.add(record.slippage_arrival_bps)
        for leg, value in record.latency_ns.items():
            if value is not None:
                cell = self.latency[leg]
                cell[0] += value
                cell[1] += 1

    def finish(self, ratio: float) -> None:
        self.orders += 1
        self.fill_ratio_sum += ratio
        if ratio >= 1.0:
            self.orders_filled += 1

    def as_fields(self) -> dict[str, Any]:
        fee_bps = float(self.fees / self.fee_notional) * _BPS if self.fee_notional else None
        latency = {
            f"mean_{leg}_ms": None if n == 0 else round(total / n / _NS_PER_MS, 6)
            for leg, (total, n) in self.latency.items()
        }
        return {
            "fills": self.fills,
            "filled_notional": _text(self.notional),
            "slippage_decision_bps": self.decision.as_fields(),
            "slippage_arrival_bps": self.arrival.as_fields(),
            "fees_bps": _round(fee_bps),
            **latency,
            "orders_finished": self.orders,
            "orders_filled": self.orders_filled,
            "mean_fill_ratio": _round(self.fill_ratio_sum / self.orders if self.orders else None),
        }


class _Stat:
    """Mean over every value; median and p95 over the last ``window`` values."""

    __slots__ = ("count", "recent", "total")

    def __init__(self, window: int) -> None:
        self.count = 0
        self.total = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, value: float | None) -> None:
        if value is None:
            return
        self.count += 1
        self.total += value
        self.recent.append(value)

    def as_fields(self) -> dict[str, Any]:
        ordered = sorted(self.recent)
        return {
            "n": self.count,
            "mean": _round(self.total / self.count if self.count else None),
            "median": _round(percentile(ordered, 50.0)),
            "p95": _round(percentile(ordered, 95.0)),
        }


class FillQuality:
    """Execution quality of every fill and order of a session (module docstring).

    Args:
        instruments: instrument id -> Instrument (the fee's quote conversion).
        mid: instrument id -> the current mid (or last price), None before any.
        window: per breakdown cell, how many recent slippage values the median and
            p95 are taken over.
        recent: how many recent fill records ``records()`` keeps.

    Raises:
        ConfigError: ``window`` or ``recent`` is below 1.
    """

    def __init__(
        self,
        *,
        instruments: Callable[[str], Instrument],
        mid: Callable[[str], Decimal | None],
        window: int = 50_000,
        recent: int = 1_000,
    ) -> None:
        if window < 1 or recent < 1:
            raise ConfigError(
                f"fill quality: window and recent must be >= 1, were {window} and {recent}"
            )
        self._instruments = instruments
        self._mid = mid
        self._window = window
        self._pending: dict[str, _Pending] = {}
        self._venue_of: dict[str, str] = {}  # instrument -> the venue it last filled on
        self._overall = _Group(window)
        self._by_venue: dict[str, _Group] = {}
        self._by_strategy: dict[str, _Group] = {}
        # (strategy, instrument) -> slippage cost vs decision, instrument's quote currency
        self._slippage_cost: dict[tuple[str, str], Decimal] = {}
        self._recent: deque[FillQualityRecord] = deque(maxlen=recent)
        # (strategy, instrument) -> recent (notional, slippage bps vs decision): PF-4's curve
        self._sizes: dict[tuple[str, str], deque[tuple[float, float]]] = {}

    # --- inputs ------------------------------------------------------------------

    def on_submitted(self, order: Order, now_ns: int) -> None:
        """``order`` left for its venue at ``now_ns`` (after the pre-trade gate)."""
        self._pending[order.client_order_id] = _Pending(now_ns, self._mid(order.instrument_id))

    def on_event(self, event: OrderEvent, order: Order) -> None:
        """An order event other than a fill, applied by the OMS to ``order``."""
        pending = self._pending.get(order.client_order_id)
        if pending is None:
            return  # never submitted through this kernel (adopted, or denied)
        if type(event) is OrderAccepted and pending.accept_ns is None and not pending.filled:
            pending.accept_ns = event.ts_init
            pending.arrival_price = self._mid(order.instrument_id) or pending.arrival_price
        if order.status.is_terminal:
            self._finish(order, pending)

    def on_fill(self, fill: OrderFilled, order: Order | None) -> FillQualityRecord:
        """Book one fill (the kernel's, already de-duplicated); return its record."""
        cid = fill.client_order_id
        pending = self._pending.get(cid)
        record = self._record(fill, order, pending)
        self._venue_of[fill.instrument_id] = fill.venue
        fee_quote = self._fee_in_quote(fill)
        for group in self._groups(fill.strategy_id, fill.venue):
            group.add(record, fee_quote)
        if record.slippage_cost is not None:
            self._add_cost(fill, record)
        self._recent.append(record)
        if pending is not None:
            pending.filled = True
            pending.venue = fill.venue
            if order is not None and order.status.is_terminal:
                self._finish(order, pending)
        return record

    def _add_cost(self, fill: OrderFilled, record: FillQualityRecord) -> None:
        sid, cost, bps = fill.strategy_id, record.slippage_cost, record.slippage_decision_bps
        assert cost is not None  # a cost comes with its bps (a decision price > 0)
        assert bps is not None
        key = (sid, fill.instrument_id)
        self._slippage_cost[key] = self._slippage_cost.get(key, ZERO) + cost
        sizes = self._sizes.get(key)
        if sizes is None:
            sizes = self._sizes[key] = deque(maxlen=self._window)
        sizes.append((float(record.notional), bps))

    # --- outputs -----------------------------------------------------------------

    def slippage_cost(self, strategy_id: str, instrument_id: str) -> Decimal:
        """What ``strategy_id``'s fills on ``instrument_id`` paid versus their decision
        prices, in its quote currency (exact; > 0 a cost); 0 before any such fill."""
        return self._slippage_cost.get((strategy_id, instrument_id), ZERO)

    def size_slippage(self, strategy_id: str, instrument_id: str) -> list[tuple[float, float]]:
        """Recent fills of ``strategy_id`` on ``instrument_id`` with a decision price, as
        ``(notional in quote, slippage bps vs decision)``, oldest first."""
        return list(self._sizes.get((strategy_id, instrument_id), ()))

    def records(self) -> list[FillQualityRecord]:
        """The most recent fill records, oldest first."""
        return list(self._recent)

    def summary(self) -> dict[str, Any]:
        """Every figure, JSON-able (Decimals as text): overall, by venue, by strategy."""
        return {
            "overall": self._overall.as_fields(),
            "by_venue": {v: g.as_fields() for v, g in sorted(self._by_venue.items())},
            "by_strategy": {s: g.as_fields() for s, g in sorted(self._by_strategy.items())},
            "orders_open": len(self._pending),
        }

    # --- internals ---------------------------------------------------------------

    def _record(
        self, fill: OrderFilled, order: Order | None, pending: _Pending | None
    ) -> FillQualityRecord:
        decision = None if order is None else order.decision_price
        arrival = None if pending is None else pending.arrival_price
        sign = fill.side.sign
        cost = None
        if decision is not None and decision > 0:
            cost = (sign * (fill.last_px - decision) * fill.last_qty).quantize(_COST_QUANTUM)
        return FillQualityRecord(
            client_order_id=fill.client_order_id,
            strategy_id=fill.strategy_id,
            instrument_id=fill.instrument_id,
            venue=fill.venue,
            side=fill.side.value,
            ts_event=fill.ts_event,
            qty=fill.last_qty,
            price=fill.last_px,
            notional=fill.last_qty * fill.last_px,
            decision_price=decision,
            arrival_price=arrival,
            slippage_decision_bps=_bps(sign, fill.last_px, decision),
            slippage_arrival_bps=_bps(sign, fill.last_px, arrival),
            slippage_cost=cost,
            fee_bps=_fee_bps(self._fee_in_quote(fill), fill.last_qty * fill.last_px),
            latency_ns=_latency(fill, order, pending),
        )

    def _finish(self, order: Order, pending: _Pending) -> None:
        del self._pending[order.client_order_id]
        ratio = float(order.filled_qty / order.quantity) if order.quantity else 0.0
        venue = pending.venue or self._venue_of.get(order.instrument_id) or _venue(order)
        for group in self._groups(order.strategy_id, venue):
            group.finish(ratio)

    def _groups(self, strategy_id: str, venue: str) -> tuple[_Group, _Group, _Group]:
        by_venue = self._by_venue.get(venue)
        if by_venue is None:
            by_venue = self._by_venue[venue] = _Group(self._window)
        by_strategy = self._by_strategy.get(strategy_id)
        if by_strategy is None:
            by_strategy = self._by_strategy[strategy_id] = _Group(self._window)
        return self._overall, by_venue, by_strategy

    def _fee_in_quote(self, fill: OrderFilled) -> Decimal | None:
        instrument = self._instruments(fill.instrument_id)
        if fill.fee_currency == instrument.quote or not fill.fee:
            return fill.fee
        if fill.fee_currency == instrument.base:
            return fill.fee * fill.last_px
        return None  # a third currency: not converted, not counted


def _latency(
    fill: OrderFilled, order: Order | None, pending: _Pending | None
) -> dict[str, int | None]:
    """The order's latency legs on its first fill; every leg None on a later fill."""
    if pending is None or pending.filled or order is None:
        return dict.fromkeys(_LEGS)
    fill_ns = fill.ts_init
    accept = pending.accept_ns
    return {
        "decision_to_submit": pending.submit_ns - order.ts_init,
        "submit_to_accept": None if accept is None else accept - pending.submit_ns,
        "accept_to_fill": None if accept is None else fill_ns - accept,
        "decision_to_fill": fill_ns - order.ts_init,
    }


def _venue(order: Order) -> str:
    try:
        return split_instrument_id(order.instrument_id)[0]
    except ConfigError:
        return ""


def percentile(ordered: list[float], pct: float) -> float | None:
    """The ``pct`` percentile of sorted values, linear between ranks (numpy's default);
    None for no values."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _bps(sign: int, price: Decimal, reference: Decimal | None) -> float | None:
    if reference is None or reference <= 0:
        return None
    return sign * float((price - reference) / reference) * _BPS


def _fee_bps(fee: Decimal | None, notional: Decimal) -> float | None:
    return None if fee is None or not notional else float(fee / notional) * _BPS


def _text(value: Decimal | None) -> str | None:
    """Plain decimal text (no exponent), cut to 10 decimals."""
    if value is None:
        return None
    if value.as_tuple().exponent < -10:  # type: ignore[operator]
        value = value.quantize(Decimal("1e-10"))
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
