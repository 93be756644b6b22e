"""Pre-trade checks: one small pure function each, returning a refusal or None.

Each check receives the order and a ``RiskInput`` snapshot of what it may
look at. A refusal is a ``RiskRejected(code, sentence)`` (SPEC RK-5): the code
is for machines and metrics, the sentence says what, the value and the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from genesis.core.enums import Side
from genesis.core.instruments import Instrument
from genesis.core.orders import Order
from genesis.errors import InvalidOrder, RiskRejected
from genesis.risk.limits import Tier, TierLimits

__all__ = [
    "Check",
    "RiskInput",
    "check_cash",
    "check_confidence",
    "check_correlation",
    "check_instrument_filters",
    "check_leverage",
    "check_margin",
    "check_open_positions",
    "check_position_size",
    "check_reduces",
    "check_slippage",
    "check_stop_loss",
]


_RISK_FIELDS: Final = (
    "correlated", "equity", "expected_slippage", "fee_rate", "free_base", "free_quote",
    "gross_after", "increases", "instrument", "limits", "margin_available", "margin_currency",
    "margin_needed", "open_positions", "position_qty", "reduce_only", "reference_price",
    "requires_stop_loss", "tier",
)  # fmt: skip


class RiskInput:
    """What the checks may look at for one order, built once per order.

    A plain class, not a Struct or a dataclass: this module is compiled, and the checks
    read a native class's fields as C struct members (a Struct's through Python's
    generic attribute lookup, about 45 reads per order). Treat it as frozen; tests vary
    one with ``replace``.
    """

    def __init__(
        self,
        *,
        instrument: Instrument,
        reference_price: Decimal,
        equity: Decimal,
        free_quote: Decimal,
        free_base: Decimal,
        position_qty: Decimal,
        fee_rate: Decimal,
        tier: Tier | None,
        limits: TierLimits | None,
        requires_stop_loss: bool,
        reduce_only: bool,
        open_positions: int = 0,
        increases: bool | None = None,
        gross_after: Decimal | None = None,
        expected_slippage: Decimal | None = None,
        correlated: tuple[str, float, int] | None = None,
        margin_needed: Decimal | None = None,
        margin_available: Decimal | None = None,
        margin_currency: str = "",
    ) -> None:
        self.instrument = instrument
        self.reference_price = reference_price  # limit price, else the last traded price
        self.equity = equity  # read by the tier checks only (0 when no tier is active)
        self.free_quote = free_quote  # quote balance minus what open buy orders reserve
        self.free_base = free_base  # base balance minus what open sell orders reserve
        self.position_qty = position_qty  # the strategy's signed position (tier checks only)
        self.fee_rate = fee_rate  # worst-case (taker) fee as a fraction of notional
        self.tier = tier
        self.limits = limits
        self.requires_stop_loss = requires_stop_loss
        self.reduce_only = reduce_only  # an exit: never blocked by sizing
        # positions held or being opened (by working entries) across every strategy, other
        # than the one this order is on (tier checks of an entry from flat only; else 0)
        self.open_positions = open_positions
        # whether the order grows the strategy's position (None: worked out from the fields)
        self.increases = increases
        # the tier's entry checks only (computed for entries, else None: the check passes)
        self.gross_after = gross_after  # gross exposure after the order, equity's currency
        self.expected_slippage = expected_slippage  # fraction of the mid (book walk, else spread)
        # the held instrument whose returns move most with this order's, its correlation
        # (signed by the two positions' directions) and the number of aligned returns
        self.correlated = correlated
        # an instrument traded on margin (``instrument.margin_rate``): what the order adds
        # to the account's margin and the margin free besides it (NAV less every
        # instrument's margin, working orders included), both in ``margin_currency``, the
        # account's; None when the pair's margin cannot be stated in it (a cross)
        self.margin_needed = margin_needed
        self.margin_available = margin_available
        self.margin_currency = margin_currency

    def replace(self, **changes: Any) -> RiskInput:
        """A copy with ``changes`` (field name -> value)."""
        unknown = set(changes) - set(_RISK_FIELDS)
        if unknown:
            raise TypeError(f"RiskInput has no field {sorted(unknown)}")
        fields = {name: getattr(self, name) for name in _RISK_FIELDS}
        return RiskInput(**(fields | changes))


Check = Callable[[Order, RiskInput], RiskRejected | None]


def check_instrument_filters(order: Order, risk: RiskInput) -> RiskRejected | None:
    """Step size and quantity limits; tick size of the order's own prices; min notional.

    The notional of a market order is judged at the reference (last) price, which
    need not sit on a tick (a quote mid often does not).
    """
    inst = risk.instrument
    try:
        inst.validate_quantity(order.quantity)
        for price in (order.price, order.trigger_price):
            if price is not None:
                inst.validate_price(price)
        inst.validate_notional(order.price or risk.reference_price, order.quantity)
    except InvalidOrder as exc:
        return RiskRejected("INSTRUMENT_FILTER", str(exc))
    return None


def check_cash(order: Order, risk: RiskInput) -> RiskRejected | None:
    """A spot account pays for buys with free quote and sells only base it holds; an
    instrument traded on margin needs margin instead (``check_margin``)."""
    inst = risk.instrument
    if inst.margin_rate is not None:
        return check_margin(order, risk)
    if order.side is Side.BUY:
        cost = order.quantity * risk.reference_price * (1 + risk.fee_rate)
        if cost > risk.free_quote:
            return RiskRejected(
                "INSUFFICIENT_CASH",
                f"buy {order.quantity} {inst.symbol} needs {cost:.8f} {inst.quote} with fees,"
                f" {risk.free_quote} {inst.quote} free",
            )
    elif order.quantity > risk.free_base:
        return RiskRejected(
            "INSUFFICIENT_BALANCE",
            f"sell {order.quantity} {inst.base} exceeds the {risk.free_base} {inst.base} free",
        )
    return None


def check_margin(order: Order, risk: RiskInput) -> RiskRejected | None:
    """An order on margin (FX: long or short) needs what it adds to the account's margin
    free: NAV less the margin of every position and working order (``core.margin``)."""
    inst, needed, free = risk.instrument, risk.margin_needed, risk.margin_available
    what = f"{order.side.value.lower()} {order.quantity} {inst.symbol}"
    if needed is None or free is None:
        return RiskRejected(
            "INSUFFICIENT_MARGIN",
            f"{what}: its margin cannot be stated in the account currency"
            f" {risk.margin_currency or '?'} (a cross pair needs another pair's rate)",
        )
    if needed > 0 and needed > free:
        return RiskRejected(
            "INSUFFICIENT_MARGIN",
            f"{what} needs {needed:.4f} {risk.margin_currency} margin"
            f" ({inst.margin_rate} of its value), {free:.4f} {risk.margin_currency} available",
        )
    return None


def check_position_size(order: Order, risk: RiskInput) -> RiskRejected | None:
    """The position after the order must stay within the tier's share of equity."""
    if risk.limits is None or risk.reduce_only or risk.tier is None:
        return None
    if not _increases_exposure(order, risk):
        return None
    after = abs(risk.position_qty + order.side.sign * order.quantity)
    inst = risk.instrument
    # equity is in the account currency: USD_JPY on a USD account is sized in USD (units)
    in_base = risk.margin_currency == inst.base != inst.quote
    notional = after if in_base else after * risk.reference_price
    limit = risk.equity * risk.limits.max_position_pct
    if notional > limit:
        return RiskRejected(
            "MAX_POSITION_SIZE",
            f"position notional {notional:.2f} {inst.base if in_base else inst.quote} would exceed"
            f" {risk.limits.max_position_pct:%} of equity = {limit:.2f} ({risk.tier.value})",
        )
    return None


def check_stop_loss(order: Order, risk: RiskInput) -> RiskRejected | None:
    """Entries must carry a stop loss when the strategy's config says so; exits need none."""
    if not risk.requires_stop_loss or risk.reduce_only or order.stop_loss is not None:
        return None
    if not _increases_exposure(order, risk):
        return None
    return RiskRejected(
        "STOP_LOSS_REQUIRED",
        f"entry {order.client_order_id} has no stop loss and its strategy requires one",
    )


def check_confidence(order: Order, risk: RiskInput) -> RiskRejected | None:
    """An entry's signal confidence must reach the tier's minimum; exits need none."""
    if risk.limits is None or risk.reduce_only or not _increases_exposure(order, risk):
        return None
    floor = risk.limits.min_confidence
    if order.confidence is None:
        return RiskRejected(
            "CONFIDENCE_MISSING",
            f"entry {order.client_order_id} carries no signal confidence; the"
            f" {_tier_name(risk)} tier needs at least {floor}",
        )
    if order.confidence < floor:
        return RiskRejected(
            "LOW_CONFIDENCE",
            f"entry {order.client_order_id} has confidence {order.confidence:.3f}, below the"
            f" {_tier_name(risk)} tier's minimum {floor}",
        )
    return None


def check_open_positions(order: Order, risk: RiskInput) -> RiskRejected | None:
    """A new position (from flat) must fit under the tier's number of open positions."""
    if risk.limits is None or risk.reduce_only or risk.position_qty != 0:
        return None
    limit = risk.limits.max_open_positions
    if risk.open_positions >= limit:
        return RiskRejected(
            "MAX_OPEN_POSITIONS",
            f"entry {order.client_order_id} would open a position on"
            f" {order.instrument_id} while {risk.open_positions} are open or opening;"
            f" the {_tier_name(risk)} tier allows {limit}",
        )
    return None


def check_leverage(order: Order, risk: RiskInput) -> RiskRejected | None:
    """Gross exposure after an entry, over equity, must stay within the tier's leverage."""
    limits, gross = risk.limits, risk.gross_after
    if limits is None or gross is None or risk.reduce_only or not _increases_exposure(order, risk):
        return None
    cap = risk.equity * limits.max_leverage
    if gross > cap:
        ratio = gross / risk.equity if risk.equity > 0 else Decimal("Infinity")
        return RiskRejected(
            "MAX_LEVERAGE",
            f"entry {order.client_order_id} on {order.instrument_id} would take gross exposure"
            f" to {gross:.2f} = {ratio:.2f}x equity; the {_tier_name(risk)} tier allows"
            f" {limits.max_leverage}x ({cap:.2f})",
        )
    return None


def check_slippage(order: Order, risk: RiskInput) -> RiskRejected | None:
    """An entry's expected slippage from the live book (or quote) must stay within the limit."""
    limits, slip = risk.limits, risk.expected_slippage
    if limits is None or slip is None or risk.reduce_only or not _increases_exposure(order, risk):
        return None
    if slip > limits.max_slippage_pct:
        return RiskRejected(
            "MAX_SLIPPAGE",
            f"entry {order.client_order_id} {order.side.value} {order.quantity}"
            f" {order.instrument_id} expects {slip:.4%} slippage from the mid; the"
            f" {_tier_name(risk)} tier allows {limits.max_slippage_pct:.4%}",
        )
    return None


def check_correlation(order: Order, risk: RiskInput) -> RiskRejected | None:
    """An entry must not move with a position already held beyond the tier's correlation."""
    limits, found = risk.limits, risk.correlated
    if limits is None or found is None or risk.reduce_only or not _increases_exposure(order, risk):
        return None
    held, corr, samples = found
    if corr > limits.max_correlation:
        return RiskRejected(
            "MAX_CORRELATION",
            f"entry {order.client_order_id} on {order.instrument_id} moves with the position"
            f" held on {held}: correlation {corr:.3f} over {samples} returns; the"
            f" {_tier_name(risk)} tier allows {limits.max_correlation}",
        )
    return None


def _tier_name(risk: RiskInput) -> str:
    return risk.tier.value if risk.tier is not None else "active"


def check_reduces(order: Order, risk: RiskInput) -> bool:
    """True when ``order`` only shrinks the strategy's position (never flips or grows it)."""
    before = risk.position_qty
    after = before + order.side.sign * order.quantity
    return abs(after) < abs(before) and (after == 0 or (after > 0) == (before > 0))


def _increases_exposure(order: Order, risk: RiskInput) -> bool:
    if risk.increases is not None:
        return risk.increases  # the pre-trade gate worked it out once for every check
    return abs(risk.position_qty + order.side.sign * order.quantity) > abs(risk.position_qty)
