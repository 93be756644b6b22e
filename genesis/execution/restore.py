"""Orders from before a restart: rebuilt from their journaled intent, never re-decided.

A live restart cannot replay the market: the orders it placed are rebuilt
from the intent journaled before each was sent (the full ``SubmitOrder``),
marked SUBMITTED (the venue has, or had, it), and given the fills the journal
holds for them. The venue then says where each stands (the connector's
query by client order id); a fill delivered again is a duplicate by trade id.
"""

from __future__ import annotations

from collections.abc import Iterable

from genesis.core.commands import SubmitOrder
from genesis.core.events import OrderFilled, OrderSubmitted
from genesis.core.orders import Order

__all__ = ["order_from_intent"]


def order_from_intent(intent: SubmitOrder, fills: Iterable[OrderFilled] = ()) -> Order:
    """The order as the kernel knew it: SUBMITTED, then each journaled fill applied.

    Raises:
        IllegalTransition / DataError: a fill that does not fit the order (overfill,
            another order's id); the order is left as it was before that fill.
    """
    order = Order(
        client_order_id=intent.client_order_id, strategy_id=intent.strategy_id,
        instrument_id=intent.instrument_id, side=intent.side, order_type=intent.order_type,
        quantity=intent.quantity, ts_init=intent.ts_init, price=intent.price,
        trigger_price=intent.trigger_price, time_in_force=intent.time_in_force,
        post_only=intent.post_only, correlation_id=intent.correlation_id,
        stop_loss=intent.stop_loss, take_profit=intent.take_profit,
        confidence=intent.confidence, decision_price=intent.decision_price,
        display_qty=intent.display_qty, trailing_offset=intent.trailing_offset,
        trailing_bps=intent.trailing_bps,
    )  # fmt: skip
    submitted = OrderSubmitted(
        ts_event=intent.ts_init, ts_init=intent.ts_init, client_order_id=intent.client_order_id,
        strategy_id=intent.strategy_id, instrument_id=intent.instrument_id,
    )  # fmt: skip
    order.apply(submitted)
    for fill in fills:
        order.apply(fill)
    return order
