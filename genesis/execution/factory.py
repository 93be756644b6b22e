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
    ) -> Order:
        inst = self._instruments(instrument_id)
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
        )


def _positive(inst: Instrument, name: str, value: Decimal | None, increment: Decimal) -> None:
    if value is not None and value <= 0:
        raise InvalidOrder(
            f"{inst.symbol}: {name} must be > 0 after rounding to {increment}, was {value}"
        )


def _check_confidence(inst: Instrument, confidence: float | None) -> None:
    if confidence is None:
        return
    if isinstance(confidence, bool) or not 0 <= float(confidence) <= 1:
        raise InvalidOrder(
            f"{inst.symbol}: confidence must be a number in [0, 1], was {confidence!r}"
        )


def _trigger(inst: Instrument, value: object) -> Decimal | None:
    return None if value is None else inst.price(value, ROUND_HALF_EVEN)
