"""Per-order bookkeeping of the ccxt venue and the once-only fill ledger."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import structlog

from genesis.core.commands import SubmitOrder
from genesis.core.events import OrderFilled
from genesis.exchange.ccxt.mapping import fill_from_trade

__all__ = ["FillBook", "Tracked"]

log = structlog.get_logger(__name__)

_PARKED: Final = 1_000  # streamed trades held for orders whose venue id is not known yet


@dataclass(slots=True)
class Tracked:
    """One order this venue sent.

    ``state``: ``pending`` (request in flight), ``unknown`` (outcome being
    resolved by query), ``open``, ``replacing`` (a modify's cancel-replace is
    under way: the poller leaves it alone), ``closing`` (terminal at the venue
    as ``close_status`` with ``close_filled`` filled, trades not all delivered
    yet), ``done``. ``settled`` is set once the order has left
    ``pending``/``unknown`` (and is cleared while it is ``replacing``), so a
    cancel waits for it.
    """

    cmd: SubmitOrder
    symbol: str  # ccxt unified symbol
    sent_mono: float  # time.monotonic() at the send
    sent_ms: int  # wall clock ms at the send (for fetch_my_trades ``since``)
    venue_order_id: str = ""
    state: str = "pending"
    accepted: bool = False
    filled: Decimal = Decimal(0)  # quantity delivered as OrderFilled
    # filled by the venue orders this one replaced (a modify as cancel-replace): the venue
    # counts only the current venue order's own fills
    carried: Decimal = Decimal(0)
    close_status: str = ""
    close_filled: Decimal = Decimal(0)
    closing_mono: float | None = None  # time.monotonic() when it became ``closing``
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def active(self) -> bool:
        """Open at the venue, or closed there with fills still to deliver."""
        return self.state in ("open", "closing")


class FillBook:
    """Trade ids already delivered, per ccxt symbol: each fill goes out once.

    Trades streamed before their order's venue id is known (the stream can
    beat the placement answer) are parked by venue order id until it is.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._parked: deque[tuple[str, Any]] = deque(maxlen=_PARKED)
        self.malformed = 0

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, symbol: str, trade: Any) -> bool:
        """Whether ``trade`` (on ccxt ``symbol``) was already delivered."""
        return (symbol, str(trade.get("id"))) in self._seen

    def take(self, trade: Any, t: Tracked, venue: str, now_ns: int) -> OrderFilled | None:
        """The OrderFilled for ``trade`` the first time it is seen, else None.

        A malformed trade is counted and skipped, and not marked seen, so a
        corrected answer on a later poll is still delivered.
        """
        if self.seen(t.symbol, trade):
            return None
        try:
            fill = fill_from_trade(
                trade,
                venue=venue,
                instrument_id=t.cmd.instrument_id,
                client_order_id=t.cmd.client_order_id,
                strategy_id=t.cmd.strategy_id,
                ts_init=now_ns,
            )
        except (ValueError, TypeError) as exc:
            self.malformed += 1
            log.warning("ccxt_trade_malformed", symbol=t.symbol, error=str(exc))
            return None
        self._seen.add((t.symbol, str(trade.get("id"))))
        return fill

    def park(self, venue_order_id: str, trade: Any) -> None:
        """Hold a streamed trade of an order not known (yet); the oldest goes when full."""
        self._parked.append((venue_order_id, trade))

    def unpark(self, venue_order_id: str) -> list[Any]:
        """The parked trades of ``venue_order_id``, removed from the parking."""
        mine = [trade for vid, trade in self._parked if vid == venue_order_id]
        if mine:
            kept = [(vid, trade) for vid, trade in self._parked if vid != venue_order_id]
            self._parked = deque(kept, maxlen=_PARKED)
        return mine
