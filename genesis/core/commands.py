"""Commands from the kernel to venues: immutable, imperative, carrying a correlation id."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from genesis.core.enums import OrderType, Side, TimeInForce

__all__ = [
    "CancelAllOrders",
    "CancelOrder",
    "Command",
    "EngageKillSwitch",
    "KernelCommand",
    "ModifyOrder",
    "ResetKillSwitch",
    "SubmitOrder",
]


class Command(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    ts_init: int
    strategy_id: str
    instrument_id: str
    correlation_id: str = ""


class SubmitOrder(Command, frozen=True, gc=False, kw_only=True):
    """Everything a venue needs to place one order."""

    client_order_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    oco_group: str = ""  # orders sharing a group form a one-cancels-the-other list
    # a leg of an OCO list the kernel keeps itself (its venue has none; execution.oco):
    # journaled so a restart pairs the legs again; no venue reads it (the venue sees an
    # independent order, as it must: a list it cannot honour is refused as oco_group)
    oco_emulated: str = ""
    reduce_only: bool = False  # an exit: it may only reduce the strategy's position
    stop_loss: Decimal | None = None  # attached to an entry: exits submitted once it fills
    take_profit: Decimal | None = None
    confidence: float | None = None  # the signal's confidence, as the strategy gave it
    decision_price: Decimal | None = None  # the market price when the order was decided
    # an emulated order's own terms (genesis.execution.emulation): journaled with the intent
    # so a restart rebuilds it; a venue never receives them (it gets the released order)
    display_qty: Decimal | None = None
    trailing_offset: Decimal | None = None
    trailing_bps: Decimal | None = None
    # the intent of an order the kernel holds (emulated): journaled like every intent so a
    # restart adopts it, never sent to a venue (the driver keeps it; the release goes later)
    emulated: bool = False


class CancelOrder(Command, frozen=True, gc=False, kw_only=True):
    client_order_id: str


class ModifyOrder(Command, frozen=True, gc=False, kw_only=True):
    client_order_id: str
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None


class CancelAllOrders(Command, frozen=True, gc=False, kw_only=True):
    """Cancel every open order of ``strategy_id`` on ``instrument_id``."""


# --- commands to the kernel ---------------------------------------------------


class KernelCommand(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """An instruction for the kernel itself (not a venue), fed in like an event."""

    ts_init: int
    reason: str
    source: str = "operator"
    request_id: str = ""


class EngageKillSwitch(KernelCommand, frozen=True, gc=False, kw_only=True):
    """Deny new exposure and cancel working orders, or flatten (RK-2).

    ``scope``: ``all`` working orders (an operator's kill), only the ``entries`` (open
    positions keep their stops and targets: a reconciliation halt), or ``none``.
    """

    flatten: bool = False
    scope: str = "all"


class ResetKillSwitch(KernelCommand, frozen=True, gc=False, kw_only=True):
    """Clear the kill switch; the day's loss is measured again from the equity now."""
