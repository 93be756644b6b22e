"""Live capital allocations from promotions (SPEC PT-2) as a pre-trade cap.

The operator's approval of a promotion writes the strategy's entry in
``live-allocations.json`` (``genesis.paper.ledger``): its granted step's
``amount`` of the promotion's ``target``, in the strategy's quote currency.
The live daemon reads the file (``genesis.daemon.allocations``) and hands the
entries to ``LiveAllocations``, whose ``check`` runs last in the risk engine:

* a strategy is *governed* when its running config has a ``promotion:``
  section, or when the file has an entry for it;
* an entry of a governed strategy without an entry is refused with
  ``LIVE_NOT_ALLOCATED``: it does not trade live until the operator approves;
* an entry of a strategy with an entry is refused with
  ``LIVE_ALLOCATION_CAP`` when the strategy's gross exposure after it would
  exceed the amount. Working orders count: each instrument at the larger of its
  position with every working buy filled and with every working sell filled (so
  five resting buys, each within the cap alone, cannot add up past it), the
  other instruments at their marks (a working order's own price until one is
  seen), this order's instrument, with this order, at the reference price;
* exits (reduce-only orders, orders that only shrink the strategy's position)
  always pass: a cap must never trap a position, and a revoked allocation
  lets the strategy close what it holds.

Pure and synchronous: the file is parsed by ``parse_allocations`` (a
``ConfigError`` naming the entry and the field on any fault) and swapped in
whole by ``replace``, between two market events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.errors import ConfigError, RiskRejected
from genesis.portfolio.positions import Portfolio
from genesis.risk.checks import RiskInput

__all__ = ["Allocation", "LiveAllocations", "parse_allocations"]

NOT_ALLOCATED = "LIVE_NOT_ALLOCATED"
CAPPED = "LIVE_ALLOCATION_CAP"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # StrategyConfig.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    """One strategy's approved live capital: ``amount`` (quote currency) is the cap."""

    strategy_id: str
    promotion_id: str
    step: int
    of_steps: int
    fraction: Decimal
    amount: Decimal

    def fields(self) -> dict[str, Any]:
        return {"promotion_id": self.promotion_id, "step": self.step, "of_steps": self.of_steps,
                "fraction": str(self.fraction), "amount": str(self.amount)}  # fmt: skip


def parse_allocations(text: str, source: str) -> dict[str, Allocation]:
    """The allocation file's entries by strategy id.

    Raises:
        ConfigError: not JSON, not an object, or an entry whose field is missing or
            invalid (``source: strategy: field: why``).
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: an object of strategy id -> allocation, was {_kind(raw)}")
    return {sid: _entry(source, sid, value) for sid, value in sorted(raw.items())}


def _entry(source: str, sid: str, value: Any) -> Allocation:
    where = f"{source}: {sid}"
    if not _ID.fullmatch(sid):
        raise ConfigError(f"{where}: not a strategy id (letters, digits, _ . -; 1-64)")
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: an object, was {_kind(value)}")
    pid = value.get("promotion_id")
    if not isinstance(pid, str) or not pid:
        raise ConfigError(f"{where}: promotion_id: a non-empty string, was {pid!r}")
    step, of_steps = _count(value.get("step")), _count(value.get("of_steps"))
    if step is None or of_steps is None or step > of_steps:
        raise ConfigError(
            f"{where}: step: 1 <= step <= of_steps, was {value.get('step')!r}"
            f" of {value.get('of_steps')!r}"
        )
    fraction = _decimal(where, "fraction", value.get("fraction"))
    if fraction > 1:
        raise ConfigError(f"{where}: fraction: at most 1, was {fraction}")
    amount = _decimal(where, "amount", value.get("amount"))
    return Allocation(strategy_id=sid, promotion_id=pid, step=step, of_steps=of_steps,
                      fraction=fraction, amount=amount)  # fmt: skip


def _count(value: Any) -> int | None:
    """A whole number >= 1 (not a bool), else None."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return value if ok else None


def _decimal(where: str, name: str, value: Any) -> Decimal:
    """A decimal string, finite and not negative (money is never a JSON float)."""
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise ConfigError(f"{where}: {name}: a decimal string >= 0, was {value!r}")
    return number


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class LiveAllocations:
    """The live daemon's allocation cap; see the module docstring.

    ``governed(strategy_id)`` says whether a strategy without an entry is refused
    (the daemon's: its running config has a ``promotion:`` section).
    """

    def __init__(self, governed: Callable[[str], bool]) -> None:
        self.entries: dict[str, Allocation] = {}
        self._governed = governed
        self._portfolio: Portfolio | None = None
        self._working: Callable[[str], Iterable[Order]] = lambda _sid: ()

    def attach(
        self, portfolio: Portfolio, working: Callable[[str], Iterable[Order]] | None = None
    ) -> None:
        """The kernel's portfolio (positions and marks) and the strategy's working orders
        (``OrderManager.open_orders``)."""
        self._portfolio = portfolio
        if working is not None:
            self._working = working

    def replace(self, entries: Mapping[str, Allocation]) -> None:
        self.entries = dict(entries)

    def governs(self, strategy_id: str) -> bool:
        return strategy_id in self.entries or self._governed(strategy_id)

    def check(self, order: Order, risk: RiskInput) -> RiskRejected | None:
        sid = order.strategy_id
        portfolio = self._portfolio
        if risk.reduce_only or portfolio is None or not self.governs(sid):
            return None
        held = portfolio.position_qty(order.instrument_id, sid)
        after = held + order.side.sign * order.quantity
        if abs(after) <= abs(held):
            return None  # an exit, or a flip no larger than what is held
        entry = self.entries.get(sid)
        if entry is None:
            return RiskRejected(
                NOT_ALLOCATED, f"strategy {sid} has no approved live allocation"
                " (live-allocations.json): it trades live only after the operator approves its"
                " promotion (`genesis promotion approve`)",
            )  # fmt: skip
        exposure = self._exposure(portfolio, sid, order, risk.reference_price)
        if exposure > entry.amount:
            quote = risk.instrument.quote
            return RiskRejected(
                CAPPED, f"strategy {sid}'s exposure {exposure:.2f} {quote} would exceed its"
                f" live allocation {entry.amount} {quote} (promotion {entry.promotion_id},"
                f" step {entry.step} of {entry.of_steps})",
            )  # fmt: skip
        return None

    def _exposure(
        self, portfolio: Portfolio, sid: str, order: Order, reference: Decimal
    ) -> Decimal:
        """The strategy's gross exposure with ``order`` and every working order filled
        (see the module docstring); an instrument with no price yet counts 0."""
        held: dict[str, Decimal] = {}
        price: dict[str, Decimal] = {}
        for view in portfolio.positions(sid):
            if view.qty != 0:
                held[view.instrument_id] = view.qty
                if view.mark_px is not None:
                    price[view.instrument_id] = view.mark_px
        buys: dict[str, Decimal] = {}
        sells: dict[str, Decimal] = {}
        for working in (*self._working(sid), order):
            if working is not order and working.client_order_id == order.client_order_id:
                continue  # this order itself, already working (a modify): counted below
            iid, leaves = working.instrument_id, working.leaves_qty
            side = buys if working.side.sign > 0 else sells
            side[iid] = side.get(iid, ZERO) + leaves
            if iid not in price and working.price is not None:
                price[iid] = working.price
        price[order.instrument_id] = reference
        total = ZERO
        for iid in {*held, *buys, *sells}:
            qty = held.get(iid, ZERO)
            worst = max(abs(qty + buys.get(iid, ZERO)), abs(qty - sells.get(iid, ZERO)))
            total += worst * price.get(iid, ZERO)
        return total
