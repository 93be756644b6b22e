"""OrderFactory: the only place orders are created; stamps identity, time and quantizes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.core.clock import Clock
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.ids import IdGenerator
from genesis.core.instruments import Instrument
from genesis.core.money import ROUND_HALF_EVEN
from genesis.core.orders import Order
from genesis.errors import InvalidOrder

__all__ = ["OrderFactory"]

_MAX_BPS = Decimal(10_000)


class OrderFactory:
    """Builds orders for one strategy.

    Client order ids are ``<strategy>-<ts_ns>-<seq>``: a pure function of the
    clock and a counter, so a replay names its orders identically. Prices and
    quantities pass through the instrument's gate: quantities round toward
    zero; limit prices round in the direction that never worsens them for the
    order's side; trigger prices (stops, attached stop losses) round to the
    nearest tick, half to even, since neither direction is safe for every use.

    Every method also takes ``confidence``: the strategy's confidence in the
    signal, in [0, 1], carried on the order and its command, checked by risk
    against the tier's minimum for entries, and logged.

    Raises (from every method):
        InvalidOrder: a value is not a positive finite number or rounds to zero, or
            the confidence is outside [0, 1].
    """

    def __init__(
        self, strategy_id: str, clock: Clock, instruments: Callable[[str], Instrument]
    ) -> None:
        self._strategy_id = strategy_id
        self._clock = clock
        self._instruments = instruments
        self._ids = IdGenerator(strategy_id)

    @property
    def ids(self) -> IdGenerator:
        return self._ids

    def market(self, instrument_id: str, side: Side, quantity: object, **kw: Any) -> Order:
        """A market order for ``quantity`` (base units)."""
        return self._build(instrument_id, side, OrderType.MARKET, quantity, **kw)

    def limit(
        self, instrument_id: str, side: Side, quantity: object, price: object, **kw: Any
    ) -> Order:
        """A limit order; ``post_only=True`` and ``time_in_force`` may be passed."""
        return self._build(instrument_id, side, OrderType.LIMIT, quantity, price=price, **kw)

    def stop_market(
        self, instrument_id: str, side: Side, quantity: object, trigger_price: object, **kw: Any
    ) -> Order:
        """A stop order that becomes a market order when ``trigger_price`` trades."""
        return self._build(
            instrument_id, side, OrderType.STOP_MARKET, quantity, trigger_price=trigger_price, **kw
        )

    def stop_limit(
        self,
        instrument_id: str,
        side: Side,
        quantity: object,
        trigger_price: object,
        price: object,
        **kw: Any,
    ) -> Order:
        """A stop order that becomes a limit order at ``price`` when triggered."""
        return self._build(
            instrument_id,
            side,
            OrderType.STOP_LIMIT,
            quantity,
            price=price,
            trigger_price=trigger_price,
            **kw,
        )

    def trailing_stop(
        self,
        instrument_id: str,
        side: Side,
        quantity: object,
        *,
        offset: object = None,
        offset_bps: object = None,
        **kw: Any,
    ) -> Order:
        """A stop that trails the best price since it was accepted by ``offset`` (price
        units, rounded to the tick) or ``offset_bps`` (basis points of that price, below
        10,000); exactly one of the two. Market order when triggered (emulated)."""
        inst = self._instruments(instrument_id)
        if (offset is None) == (offset_bps is None):
            raise InvalidOrder(
                f"{inst.symbol}: a trailing stop takes exactly one of offset and offset_bps,"
                f" was offset={offset!r}, offset_bps={offset_bps!r}"
            )
        trail, bps = None, None
        if offset is not None:
            trail = inst.price(offset, ROUND_HALF_EVEN)
            _positive(inst, "offset", trail, inst.tick_size)
        else:
            bps = _bps(inst, offset_bps)
        return self._build(
            instrument_id, side, OrderType.TRAILING_STOP_MARKET, quantity,
            trailing_offset=trail, trailing_bps=bps, **kw,
        )  # fmt: skip

    def market_if_touched(
        self, instrument_id: str, side: Side, quantity: object, trigger_price: object, **kw: Any
    ) -> Order:
        """A market order once the price touches ``trigger_price``: a buy when it falls to
        it, a sell when it rises to it (emulated)."""
        return self._build(
            instrument_id, side, OrderType.MARKET_IF_TOUCHED, quantity,
            trigger_price=trigger_price, **kw,
        )  # fmt: skip

    def limit_if_touched(
        self,
        instrument_id: str,
        side: Side,
        quantity: object,
        trigger_price: object,
        price: object,
        **kw: Any,
    ) -> Order:
        """A limit order at ``price`` once the price touches ``trigger_price`` (emulated)."""
        return self._build(
            instrument_id, side, OrderType.LIMIT_IF_TOUCHED, quantity,
            price=price, trigger_price=trigger_price, **kw,
        )  # fmt: skip

    def iceberg(
        self,
        instrument_id: str,
        side: Side,
        quantity: object,
        price: object,
        display_qty: object,
        **kw: Any,
    ) -> Order:
        """A GTC limit order showing ``display_qty`` at a time (EX-3): slices are released
        one after another as each fills (emulated). Each slice must pass the instrument's
        filters on its own (min notional at ``price``)."""
        inst = self._instruments(instrument_id)
        display = inst.quantity(display_qty)
        _positive(inst, "display_qty", display, inst.step_size)
        if kw.get("time_in_force", TimeInForce.GTC) is not TimeInForce.GTC:
            raise InvalidOrder(
                f"{inst.symbol}: an iceberg order rests (GTC), was {kw['time_in_force']!r}"
            )
        order = self._build(
            instrument_id, side, OrderType.LIMIT, quantity, price=price, display_qty=display, **kw
        )
        if display > order.quantity:
            raise InvalidOrder(
                f"{inst.symbol}: display_qty {display} exceeds the order quantity {order.quantity}"
            )
        assert order.price is not None
        inst.validate_notional(order.price, display)
        return order

    def _build(
        self,
        instrument_id: str,
        side: Side,
        order_type: OrderType,
        quantity: object,
        *,
        price: object = None,
        trigger_price: object = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: object = False,
        stop_loss: object = None,
        take_profit: object = None,
        correlation_id: object = "",
        confidence: float | None = None,
        display_qty: Decimal | None = None,
        trailing_offset: Decimal | None = None,
        trailing_bps: Decimal | None = None,
    ) -> Order:
        inst = self._instruments(instrument_id)
        if not isinstance(time_in_force, TimeInForce):
            raise InvalidOrder(
                f"{inst.symbol}: time_in_force must be a TimeInForce, was {time_in_force!r}"
            )
        _check_confidence(inst, confidence)
        qty = inst.quantity(quantity)
        limit = None if price is None else inst.price_for(side, price)
        _positive(inst, "quantity", qty, inst.step_size)
        _positive(inst, "price", limit, inst.tick_size)
        now = self._clock.now_ns()
        order_id = self._ids.next(now)
        return Order(
            client_order_id=order_id,
            strategy_id=self._strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=order_type,
            quantity=qty,
            price=limit,
            trigger_price=_trigger(inst, trigger_price),
            time_in_force=time_in_force,
            post_only=bool(post_only),  # a strategy's truthy value (1, numpy.bool_)
            ts_init=now,
            correlation_id=str(correlation_id) if correlation_id else order_id,
            stop_loss=_trigger(inst, stop_loss),
            take_profit=None if take_profit is None else inst.price_for(side.opposite, take_profit),
            confidence=None if confidence is None else float(confidence),
            display_qty=display_qty,
            trailing_offset=trailing_offset,
            trailing_bps=trailing_bps,
        )


def _positive(inst: Instrument, name: str, value: Decimal | None, increment: Decimal) -> None:
    if value is not None and value <= 0:
        raise InvalidOrder(
            f"{inst.symbol}: {name} must be > 0 after rounding to {increment}, was {value}"
        )


def _bps(inst: Instrument, value: object) -> Decimal:
    """A trailing offset in basis points: a finite number in (0, 10000)."""
    try:
        bps = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except ArithmeticError:
        bps = Decimal("NaN")
    if isinstance(value, bool) or not bps.is_finite() or not 0 < bps < _MAX_BPS:
        raise InvalidOrder(
            f"{inst.symbol}: offset_bps must be a number in (0, 10000), was {value!r}"
        )
    return bps


def _check_confidence(inst: Instrument, confidence: float | None) -> None:
    if confidence is None:
        return
    if isinstance(confidence, bool) or not 0 <= float(confidence) <= 1:
        raise InvalidOrder(
            f"{inst.symbol}: confidence must be a number in [0, 1], was {confidence!r}"
        )


def _trigger(inst: Instrument, value: object) -> Decimal | None:
    return None if value is None else inst.price(value, ROUND_HALF_EVEN)
