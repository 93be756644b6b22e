"""The interface of a live venue (a real exchange connection), as the daemon sees it.

The kernel never sees a venue: it emits ``Command``s and consumes
``OrderEvent``s. The simulated venue answers synchronously (``execute`` then
``deliver_until``); a live venue answers from the network, so its order
events arrive on the venue's own tasks and are handed to a ``sink`` the
daemon gives it at start, which puts them on the trading loop's inbound
queue. Both use the same event types (``genesis.core.events``), the same
client order ids and the same ``execute(command, now_ns)`` entry point, so
the kernel, risk, OMS and portfolio cannot tell them apart.

Rules every implementation keeps (reliability plan P2-P6):

* ``execute`` never blocks and never raises for venue trouble: it schedules
  the request. Definitive refusals come back as ``OrderRejected`` (with the
  venue's code), cancels that fail as ``OrderCancelRejected``.
* An order whose outcome is unknown (timeout, 5xx, transport error) stays in
  flight and is resolved by querying the venue with its client order id; it
  is never resent before absence is proven.
* Each fill is delivered once per ``(venue, instrument, trade id)``, whether
  it came from the stream, a response or a backfill.
* ``snapshot`` reports what the venue holds, for start-up reconciliation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from genesis.core.commands import Command
from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderEvent, OrderFilled

__all__ = [
    "EventSink",
    "LiveVenue",
    "VenueBalance",
    "VenueOrder",
    "VenueSnapshot",
]

EventSink = Callable[[OrderEvent], None]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One open order as the venue reports it."""

    instrument_id: str
    client_order_id: str
    venue_order_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    filled_qty: Decimal
    price: Decimal | None
    status: str  # the venue's own status word, e.g. NEW / PARTIALLY_FILLED


@dataclass(frozen=True, slots=True)
class VenueBalance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """What the venue holds: open orders, balances and own trades since a point, and the
    account currency of a venue whose account has one (OANDA; empty: none, a spot
    account holding many assets)."""

    open_orders: tuple[VenueOrder, ...]
    balances: dict[str, VenueBalance]
    fills: tuple[OrderFilled, ...] = field(default=())
    currency: str = ""


@runtime_checkable
class LiveVenue(Protocol):
    """A connection to a real venue; see the module docstring for the rules."""

    name: str

    async def start(self, sink: EventSink) -> None:
        """Connect (REST session, user data stream) and begin delivering order events."""
        ...

    def execute(self, command: Command, now_ns: int) -> None:
        """Schedule ``command``; never blocks, never raises for venue trouble."""
        ...

    async def snapshot(
        self, instruments: list[str], since_trade_ids: dict[str, int]
    ) -> VenueSnapshot:
        """Open orders, balances and own fills after ``since_trade_ids[instrument]``."""
        ...

    async def close(self) -> None:
        """Stop the venue's tasks and close its connections (working orders are left alone)."""
        ...
