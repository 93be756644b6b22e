"""Compliance rules as pre-trade checks (SPEC RK-6): one named rule set per session.

A rule set (``ComplianceRules``, read from the ``compliance:`` section of the
risk config) switches on any of six rules, each refusing with its own code and
a sentence naming what, the value and the limit (RK-5):

==========================  ======================================================
``COMPLIANCE_RESTRICTED``   the instrument (its id, symbol or either asset) is on
                            the restricted list: entries are refused
``COMPLIANCE_SESSION``      the order's event time falls outside every trading
                            session (UTC weekday and minute windows): all orders
``COMPLIANCE_ORDER_RATE``   the account sent ``max_orders`` within the last
                            ``order_window_s`` of event time: entries are refused
``COMPLIANCE_HEDGING``      an entry would hold a position opposite to one another
                            strategy holds on the same instrument (US FX: no
                            hedging in one account)
``COMPLIANCE_FIFO``         an exit would close a position while another strategy
                            holds an older lot on the same side of the same
                            instrument (US FX, NFA 2-43b: first in, first out)
``COMPLIANCE_LEVERAGE_CLASS`` an entry would take the gross exposure of its
                            instrument class (``fx`` or ``crypto_spot``) past the
                            class's cap times equity
==========================  ======================================================

Exits (reduce-only orders and orders that only shrink the strategy's position)
are never refused by the restricted list, the order rate, hedging or leverage: a
rule must not trap a position. The session rule refuses every order (the market
is closed) and FIFO concerns exits only. Every order that passes is counted for
the order rate, exits included.

Deterministic: time is the kernel clock's (``now``), never the wall clock; the
order-rate window is a deque of event times, pruned to the window as orders are
counted (so it stays bounded with or without a cap). The checks run last in the
risk engine's list, so "passed" means approved by every check. With no rule set
the engine adds nothing to its list: the hot path is unchanged.

A running daemon swaps the rule set between two events (``replace``, through
``RiskEngine.set_compliance``; ``genesis.daemon.risk_reload``). The order-rate
window is the account's recent orders, not a property of a rule set: it is kept
across every swap while some set is in force (same set or another), and judged
with the new ``max_orders`` and ``order_window_s`` from the next order on. A
longer window than before counts only the times the shorter one still held.
"""

from __future__ import annotations

import datetime
import enum
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from genesis.core.instruments import Instrument
from genesis.core.orders import Order
from genesis.errors import RiskRejected
from genesis.risk.checks import RiskInput

__all__ = [
    "DAYS",
    "FIAT",
    "ComplianceCheck",
    "ComplianceRules",
    "InstrumentClass",
    "Session",
    "instrument_class",
]

_NS_PER_S: Final = 1_000_000_000
_NS_PER_MIN: Final = 60 * _NS_PER_S
_NS_PER_DAY: Final = 1440 * _NS_PER_MIN
_EPOCH: Final = datetime.date(1970, 1, 1)
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# ISO 4217 currencies a retail FX venue quotes: a pair of two of them is FX
FIAT: Final = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "SEK", "NOK", "DKK", "HKD", "SGD",
     "CNH", "MXN", "ZAR", "TRY", "PLN", "HUF", "CZK"}
)  # fmt: skip


class InstrumentClass(enum.Enum):
    """What a leverage cap is set per: derived from the instrument's assets."""

    CRYPTO_SPOT = "crypto_spot"
    FX = "fx"


def instrument_class(inst: Instrument) -> InstrumentClass:
    """FX when base and quote are both fiat currencies (EUR/USD); else crypto spot
    (BTCUSDT, and EURUSDT too: a stablecoin is not a currency)."""
    if inst.base in FIAT and inst.quote in FIAT:
        return InstrumentClass.FX
    return InstrumentClass.CRYPTO_SPOT


@dataclass(frozen=True, slots=True)
class Session:
    """Trading hours on some weekdays (0 = Monday), UTC minutes ``[start, end)``."""

    days: frozenset[int]
    start_min: int  # 0..1439
    end_min: int  # start+1..1440

    def contains(self, ts_ns: int) -> bool:
        # 1970-01-01 was a Thursday (weekday 3)
        day, ns_of_day = divmod(ts_ns, _NS_PER_DAY)
        minute = ns_of_day // _NS_PER_MIN
        return (day + 3) % 7 in self.days and self.start_min <= minute < self.end_min

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        return f"{days} {_hhmm(self.start_min)}-{_hhmm(self.end_min)}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class ComplianceRules:
    """One named rule set; every rule is off by default."""

    name: str
    fifo: bool = False
    no_hedging: bool = False
    leverage: Mapping[InstrumentClass, Decimal] = field(default_factory=dict)
    restricted: frozenset[str] = frozenset()  # instrument ids, symbols or assets
    sessions: tuple[Session, ...] = ()  # empty: always open
    max_orders: int = 0  # 0: no order-rate cap
    order_window_s: int = 60

    @property
    def empty(self) -> bool:
        """True when no rule is on (the engine then adds no check)."""
        return not (
            self.fifo
            or self.no_hedging
            or self.leverage
            or self.restricted
            or self.sessions
            or self.max_orders
        )


class ComplianceCheck:
    """The rule set as one check of the risk engine's list (``check(order, risk)``).

    ``now`` is the kernel clock; ``counting`` says whether this call counts (False
    during the engine's what-if ``dry_run``). The portfolio (``attach``) is the
    kernel's, read only: positions per strategy, their open lots, marks, equity.
    """

    def __init__(
        self,
        rules: ComplianceRules,
        *,
        counting: Callable[[], bool] = lambda: True,
    ) -> None:
        self.rules = rules
        self._counting = counting
        self._now: Callable[[], int] = lambda: 0
        self._portfolio: Any = None
        self._instruments: Callable[[str], Instrument] | None = None
        self._sent: deque[int] = deque()

    def replace(self, rules: ComplianceRules) -> None:
        """Put ``rules`` in force from the next order on; the order-rate window stays."""
        self.rules = rules

    def attach(
        self, portfolio: Any, instruments: Callable[[str], Instrument], now: Callable[[], int]
    ) -> None:
        """Wire the kernel's portfolio, instrument lookup and clock (by the pre-trade gate)."""
        self._portfolio = portfolio
        self._instruments = instruments
        self._now = now

    def check(self, order: Order, risk: RiskInput) -> RiskRejected | None:
        """The first refusal of the rule set, or None (then the order is counted)."""
        now = self._now()
        refusal = self._session(order, now)
        if refusal is None:
            if self._is_exit(order, risk):
                refusal = self._fifo(order)
            else:
                refusal = self._entry(order, risk, now)
        if refusal is None and self._counting():
            self._prune(now)
            self._sent.append(now)
        return refusal

    def _prune(self, now: int) -> None:
        """Forget the orders sent before the window that ends at ``now``."""
        window_ns = self.rules.order_window_s * _NS_PER_S
        sent = self._sent
        while sent and sent[0] <= now - window_ns:
            sent.popleft()

    # --- the rules --------------------------------------------------------------

    def _entry(self, order: Order, risk: RiskInput, now: int) -> RiskRejected | None:
        return (
            self._restricted(order, risk.instrument)
            or self._order_rate(order, now)
            or self._hedging(order)
            or self._leverage(order, risk)
        )

    def _session(self, order: Order, now: int) -> RiskRejected | None:
        sessions = self.rules.sessions
        if not sessions or any(s.contains(now) for s in sessions):
            return None
        hours = "; ".join(s.describe() for s in sessions)
        return RiskRejected(
            "COMPLIANCE_SESSION",
            f"order {order.client_order_id} on {order.instrument_id} at {_utc(now)} is outside"
            f" the trading sessions of rule set {self.rules.name} ({hours} UTC)",
        )

    def _restricted(self, order: Order, inst: Instrument) -> RiskRejected | None:
        listed = self.rules.restricted
        if not listed:
            return None
        for name in (order.instrument_id, inst.symbol, inst.base, inst.quote):
            if name in listed:
                return RiskRejected(
                    "COMPLIANCE_RESTRICTED",
                    f"entry {order.client_order_id} on {order.instrument_id}: {name} is on the"
                    f" restricted list of rule set {self.rules.name}",
                )
        return None

    def _order_rate(self, order: Order, now: int) -> RiskRejected | None:
        cap = self.rules.max_orders
        if not cap:
            return None
        self._prune(now)
        sent = self._sent
        if len(sent) < cap:
            return None
        return RiskRejected(
            "COMPLIANCE_ORDER_RATE",
            f"entry {order.client_order_id}: {len(sent)} orders in the last"
            f" {self.rules.order_window_s} s; rule set {self.rules.name} allows {cap}",
        )

    def _hedging(self, order: Order) -> RiskRejected | None:
        if not self.rules.no_hedging:
            return None
        own = self._portfolio.position_qty(order.instrument_id, order.strategy_id)
        after = own + order.side.sign * order.quantity
        others = self._portfolio.position_qty(order.instrument_id) - own
        if after == 0 or others == 0 or (after > 0) == (others > 0):
            return None
        return RiskRejected(
            "COMPLIANCE_HEDGING",
            f"entry {order.client_order_id} would leave {order.strategy_id} at {after}"
            f" {order.instrument_id} while other strategies hold {others}: rule set"
            f" {self.rules.name} forbids opposite positions in one account",
        )

    def _fifo(self, order: Order) -> RiskRejected | None:
        if not self.rules.fifo:
            return None
        own = self._portfolio.book(order.instrument_id, order.strategy_id)
        own_lots = [] if own is None else own.open_lots()
        if not own_lots:
            return None
        own_ts, own_qty, _ = own_lots[0]
        for sid, iid in sorted(self._portfolio.open_position_keys()):
            if iid != order.instrument_id or sid == order.strategy_id:
                continue
            ts, qty, _ = self._portfolio.book(iid, sid).open_lots()[0]
            if ts < own_ts and (qty > 0) == (own_qty > 0):
                return RiskRejected(
                    "COMPLIANCE_FIFO",
                    f"exit {order.client_order_id} would close {order.strategy_id}'s"
                    f" {order.instrument_id} lot opened at {_utc(own_ts)} while {sid}'s lot"
                    f" opened at {_utc(ts)} is older: rule set {self.rules.name} closes"
                    " first in, first out",
                )
        return None

    def _leverage(self, order: Order, risk: RiskInput) -> RiskRejected | None:
        caps = self.rules.leverage
        if not caps or self._instruments is None:
            return None
        klass = instrument_class(risk.instrument)
        cap = caps.get(klass)
        if cap is None:
            return None
        gross = self._class_gross(order, risk, klass)
        equity: Decimal = self._portfolio.equity()
        limit = equity * cap
        if gross <= limit:
            return None
        return RiskRejected(
            "COMPLIANCE_LEVERAGE_CLASS",
            f"entry {order.client_order_id} on {order.instrument_id} would take {klass.value}"
            f" gross exposure to {gross:.2f}, over {cap}x equity = {limit:.2f}"
            f" (rule set {self.rules.name})",
        )

    def _class_gross(self, order: Order, risk: RiskInput, klass: InstrumentClass) -> Decimal:
        """The class's gross exposure with ``order`` filled: each other instrument of the
        class at its mark, the order's at the reference price."""
        assert self._instruments is not None
        gross = Decimal(0)
        own = order.instrument_id
        for view in self._portfolio.positions():
            iid = view.instrument_id
            if iid == own or view.qty == 0 or view.mark_px is None:
                continue
            if instrument_class(self._instruments(iid)) is klass:
                gross += abs(view.qty) * view.mark_px
        after: Decimal = self._portfolio.position_qty(own) + order.side.sign * order.quantity
        return gross + abs(after) * risk.reference_price

    def _is_exit(self, order: Order, risk: RiskInput) -> bool:
        if risk.reduce_only:
            return True
        before: Decimal = self._portfolio.position_qty(order.instrument_id, order.strategy_id)
        after = before + order.side.sign * order.quantity
        return abs(after) < abs(before) and (after == 0 or (after > 0) == (before > 0))


def _utc(ts_ns: int) -> str:
    """``2021-10-12 13:05:07 UTC`` from ns (no wall clock, no timezone database)."""
    day, rest = divmod(ts_ns // _NS_PER_S, 86_400)
    date = _EPOCH + datetime.timedelta(days=day)
    return f"{date.isoformat()} {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d} UTC"
