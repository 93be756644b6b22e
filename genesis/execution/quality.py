"""Execution quality per fill (SPEC EX-6): slippage, latency, fill ratio, by venue and strategy.

Theory of operation
-------------------
The kernel feeds one ``FillQuality`` book from three places on the order path:

* ``on_submitted(order, now_ns)`` when an order passes the pre-trade gate and
  leaves for its venue: the submission time and the *arrival price* as far as
  it is known then: the latest price the kernel saw of the instrument
  (``MarketView.price``: a book's or a quote's mid, a trade, a bar's close; one
  dict read, as this runs on every order);
* ``on_event(event, order)`` for every other order event the OMS applied: an
  ``OrderAccepted`` (the venue has the order) records the acceptance time and
  replaces the arrival price with the price at that moment; a terminal event
  closes the order's record and counts its *fill ratio* (filled / quantity);
* ``on_fill(fill, order)`` for each booked fill (never a duplicate).

Definitions, all per fill, signed so that a positive number is a cost to the
order's side (a buy paying more, a sell receiving less), as in ``tca.py``:

* ``slippage_decision_bps`` = side x (fill price - decision price) / decision
  price x 10,000; the decision price is the one the pre-trade gate stamped
  (``kernel/pretrade.py``: the market price when the strategy decided, a stop's
  trigger, an attached exit's own price);
* ``slippage_arrival_bps`` = the same against the arrival price (the price when
  the venue accepted the order; for an order the venue answered with fills and
  no acknowledgement, as a market order is, the price when it was submitted);
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
plus, per (strategy, instrument, venue), the last ``window`` fills' slippage
values for the median and p95 (means and counts cover every fill), and the last
``recent`` fills. A fill costs one cell update: the breakdowns are merged from
the cells when ``summary()`` is asked, and fill records are built by
``records()``, not on the order path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from genesis.core.enums import TERMINAL_STATUSES
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


class _Pending:
    """An order between submission and its end (the book's own, mutable)."""

    __slots__ = ("accept_ns", "arrival_price", "filled", "submit_ns", "venue")

    def __init__(self, submit_ns: int, arrival_price: Decimal | None) -> None:
        self.submit_ns = submit_ns
        self.arrival_price = arrival_price
        self.accept_ns: int | None = None
        self.filled = False
        self.venue = ""


class _Stat:
    """Mean over every value; median and p95 over the last ``window`` values."""

    __slots__ = ("count", "recent", "total")

    def __init__(self, window: int) -> None:
        self.count = 0
        self.total = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.recent.append(value)


class _Cell:
    """Running figures of one (strategy, instrument, venue)."""

    __slots__ = (
        "arrival", "cost", "decision", "fee_notional", "fees", "fills", "latency", "notional",
        "orders", "orders_filled", "ratio_sum", "sizes",
    )  # fmt: skip

    def __init__(self, window: int) -> None:
        self.fills = 0
        self.notional = ZERO
        self.fees = ZERO  # quote currency, fills whose fee converts
        self.fee_notional = ZERO  # the notional of those fills
        self.decision = _Stat(window)
        self.arrival = _Stat(window)
        self.latency = [0] * (2 * len(_LEGS))  # per leg: sum ns, count
        self.orders = 0  # finished orders
        self.orders_filled = 0  # finished completely filled
        self.ratio_sum = 0.0
        self.cost = ZERO  # slippage cost vs decision, quote currency
        self.sizes: deque[tuple[float, float]] = deque(maxlen=window)  # (notional, bps)

    def add_latency(self, legs: tuple[int | None, ...]) -> None:
        cells = self.latency
        for i, value in enumerate(legs):
            if value is not None:
                cells[2 * i] += value
                cells[2 * i + 1] += 1

    def finish(self, ratio: float) -> None:
        self.orders += 1
        self.ratio_sum += ratio
        if ratio >= 1.0:
            self.orders_filled += 1


class FillQuality:
    """Execution quality of every fill and order of a session (module docstring).

    Args:
        instruments: instrument id -> Instrument (the fee's quote conversion).
        mid: instrument id -> the current mid (or last price), None before any
            (the kernel passes ``MarketView.price``).
        window: per (strategy, instrument, venue), how many recent slippage values
            the median and p95 are taken over.
        recent: how many recent fills ``records()`` keeps.

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
        self._assets: dict[str, tuple[str, str]] = {}  # instrument -> (base, quote)
        self._cells: dict[tuple[str, str, str], _Cell] = {}  # (strategy, instrument, venue)
        # (fill, decision price, arrival price, latency legs or None), newest last
        self._recent: deque[_Seen] = deque(maxlen=recent)

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
        if order.status in TERMINAL_STATUSES:
            self._finish(order, pending)

    def on_fill(self, fill: OrderFilled, order: Order | None) -> None:
        """Book one fill (the kernel's, already de-duplicated) into its cell."""
        pending = self._pending.get(fill.client_order_id)
        decision = None if order is None else order.decision_price
        arrival = None if pending is None else pending.arrival_price
        legs = None
        if pending is not None and not pending.filled and order is not None:
            legs = _latency(fill.ts_init, order.ts_init, pending)
            pending.filled = True
            pending.venue = fill.venue
        cell = self._cell(fill.strategy_id, fill.instrument_id, fill.venue)
        px, qty, sign = fill.last_px, fill.last_qty, fill.side.sign
        notional = px * qty
        cell.fills += 1
        cell.notional += notional
        fee = self._fee_in_quote(fill)
        if fee is not None:
            cell.fees += fee
            cell.fee_notional += notional
        if decision is not None and decision > 0:
            bps = sign * (float(px) / float(decision) - 1.0) * _BPS
            cell.decision.add(bps)
            cell.cost += (sign * (px - decision) * qty).quantize(_COST_QUANTUM)
            cell.sizes.append((float(notional), bps))
        if arrival is not None and arrival > 0:
            cell.arrival.add(sign * (float(px) / float(arrival) - 1.0) * _BPS)
        if legs is not None:
            cell.add_latency(legs)
        self._venue_of[fill.instrument_id] = fill.venue
        self._recent.append((fill, decision, arrival, legs))
        if pending is not None and order is not None and order.status in TERMINAL_STATUSES:
            del self._pending[fill.client_order_id]
            cell.finish(_fill_ratio(order))  # the order's cell is the fill's

    # --- outputs -----------------------------------------------------------------

    def slippage_cost(self, strategy_id: str, instrument_id: str) -> Decimal:
        """What ``strategy_id``'s fills on ``instrument_id`` paid versus their decision
        prices, in its quote currency (exact; > 0 a cost); 0 before any such fill."""
        return sum(
            (
                c.cost
                for (s, i, _), c in self._cells.items()
                if s == strategy_id and i == instrument_id
            ),
            ZERO,
        )

    def size_slippage(self, strategy_id: str, instrument_id: str) -> list[tuple[float, float]]:
        """Recent fills of ``strategy_id`` on ``instrument_id`` with a decision price, as
        ``(notional in quote, slippage bps vs decision)``, venue by venue."""
        return [
            point
            for (s, i, _), cell in sorted(self._cells.items())
            if s == strategy_id and i == instrument_id
            for point in cell.sizes
        ]

    def records(self) -> list[FillQualityRecord]:
        """The most recent fills' records, oldest first (built now, off the order path)."""
        return [self._record(*seen) for seen in self._recent]

    def summary(self) -> dict[str, Any]:
        """Every figure, JSON-able (Decimals as text): overall, by venue, by strategy."""
        by_venue: dict[str, list[_Cell]] = {}
        by_strategy: dict[str, list[_Cell]] = {}
        for (sid, _, venue), cell in sorted(self._cells.items()):
            by_venue.setdefault(venue, []).append(cell)
            by_strategy.setdefault(sid, []).append(cell)
        return {
            "overall": _fields(list(self._cells.values())),
            "by_venue": {v: _fields(cells) for v, cells in sorted(by_venue.items())},
            "by_strategy": {s: _fields(cells) for s, cells in sorted(by_strategy.items())},
            "orders_open": len(self._pending),
        }

    # --- internals ---------------------------------------------------------------

    def _cell(self, strategy_id: str, instrument_id: str, venue: str) -> _Cell:
        key = (strategy_id, instrument_id, venue)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell(self._window)
        return cell

    def _record(
        self,
        fill: OrderFilled,
        decision: Decimal | None,
        arrival: Decimal | None,
        legs: tuple[int | None, ...] | None,
    ) -> FillQualityRecord:
        sign, px, qty = fill.side.sign, fill.last_px, fill.last_qty
        cost = None
        if decision is not None and decision > 0:
            cost = (sign * (px - decision) * qty).quantize(_COST_QUANTUM)
        return FillQualityRecord(
            client_order_id=fill.client_order_id,
            strategy_id=fill.strategy_id,
            instrument_id=fill.instrument_id,
            venue=fill.venue,
            side=fill.side.value,
            ts_event=fill.ts_event,
            qty=qty,
            price=px,
            notional=qty * px,
            decision_price=decision,
            arrival_price=arrival,
            slippage_decision_bps=_bps(sign, px, decision),
            slippage_arrival_bps=_bps(sign, px, arrival),
            slippage_cost=cost,
            fee_bps=_fee_bps(self._fee_in_quote(fill), qty * px),
            latency_ns=dict(zip(_LEGS, legs or (None,) * len(_LEGS), strict=True)),
        )

    def _finish(self, order: Order, pending: _Pending) -> None:
        del self._pending[order.client_order_id]
        venue = pending.venue or self._venue_of.get(order.instrument_id) or _venue(order)
        self._cell(order.strategy_id, order.instrument_id, venue).finish(_fill_ratio(order))

    def _fee_in_quote(self, fill: OrderFilled) -> Decimal | None:
        assets = self._assets.get(fill.instrument_id)
        if assets is None:
            inst = self._instruments(fill.instrument_id)
            assets = self._assets[fill.instrument_id] = (inst.base, inst.quote)
        if fill.fee_currency == assets[1] or not fill.fee:
            return fill.fee
        if fill.fee_currency == assets[0]:
            return fill.fee * fill.last_px
        return None  # a third currency: not converted, not counted


_Seen = tuple[OrderFilled, Decimal | None, Decimal | None, tuple[int | None, ...] | None]


def _fields(cells: list[_Cell]) -> dict[str, Any]:
    """The figures of the cells together (a venue's, a strategy's, or all)."""
    notional = sum((c.notional for c in cells), ZERO)
    fees = sum((c.fees for c in cells), ZERO)
    fee_notional = sum((c.fee_notional for c in cells), ZERO)
    orders = sum(c.orders for c in cells)
    ratio = sum(c.ratio_sum for c in cells)
    latency = [sum(c.latency[i] for c in cells) for i in range(2 * len(_LEGS))]
    means = {
        f"mean_{leg}_ms": (
            None if latency[2 * i + 1] == 0
            else round(latency[2 * i] / latency[2 * i + 1] / _NS_PER_MS, 6)
        )
        for i, leg in enumerate(_LEGS)
    }  # fmt: skip
    return {
        "fills": sum(c.fills for c in cells),
        "filled_notional": _text(notional),
        "slippage_decision_bps": _stat_fields([c.decision for c in cells]),
        "slippage_arrival_bps": _stat_fields([c.arrival for c in cells]),
        "fees_bps": _round(float(fees / fee_notional) * _BPS if fee_notional else None),
        **means,
        "orders_finished": orders,
        "orders_filled": sum(c.orders_filled for c in cells),
        "mean_fill_ratio": _round(ratio / orders if orders else None),
    }


def _stat_fields(stats: list[_Stat]) -> dict[str, Any]:
    count = sum(s.count for s in stats)
    ordered = sorted(v for s in stats for v in s.recent)
    return {
        "n": count,
        "mean": _round(sum(s.total for s in stats) / count if count else None),
        "median": _round(percentile(ordered, 50.0)),
        "p95": _round(percentile(ordered, 95.0)),
    }


def _latency(fill_ns: int, decision_ns: int, pending: _Pending) -> tuple[int | None, ...]:
    """The order's latency legs (``_LEGS`` order), measured at its first fill."""
    accept = pending.accept_ns
    return (
        pending.submit_ns - decision_ns,
        None if accept is None else accept - pending.submit_ns,
        None if accept is None else fill_ns - accept,
        fill_ns - decision_ns,
    )


def _fill_ratio(order: Order) -> float:
    filled, quantity = order.filled_qty, order.quantity
    if not filled:  # most cancelled orders: no Decimal division, no float conversion
        return 0.0
    if filled == quantity:
        return 1.0
    return float(filled / quantity) if quantity else 0.0


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
    return sign * (float(price) / float(reference) - 1.0) * _BPS


def _fee_bps(fee: Decimal | None, notional: Decimal) -> float | None:
    return None if fee is None or not notional else float(fee / notional) * _BPS


def _text(value: Decimal | None) -> str | None:
    """Plain decimal text (no exponent), cut to 10 decimals."""
    if value is None:
        return None
    if not value:
        return "0"  # not "-0" nor "0E-12"
    if value.as_tuple().exponent < -10:  # type: ignore[operator]
        value = value.quantize(Decimal("1e-10"))
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4) + 0.0  # + 0.0: no "-0.0"
