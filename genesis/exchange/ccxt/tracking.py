"""Per-order bookkeeping of the ccxt venue and the once-only fill ledger."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog

from genesis.core.commands import SubmitOrder
from genesis.core.events import OrderFilled
from genesis.exchange.ccxt.mapping import fill_from_trade

__all__ = ["FillBook", "Tracked"]

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Tracked:
    """One order this venue sent.

    ``state``: ``pending`` (request in flight), ``unknown`` (outcome being
    resolved by query), ``open``, ``closing`` (terminal at the venue, trades
    not all delivered yet), ``done``. ``settled`` is set once the order has
    left ``pending``/``unknown``, so a cancel waits for it.
    """

    cmd: SubmitOrder
    symbol: str  # ccxt unified symbol
    sent_mono: float  # time.monotonic() at the send
    sent_ms: int  # wall clock ms at the send (for fetch_my_trades ``since``)
    venue_order_id: str = ""
    state: str = "pending"
    accepted: bool = False
    filled: Decimal = Decimal(0)  # quantity delivered as OrderFilled
    settled: asyncio.Event = field(default_factory=asyncio.Event)


class FillBook:
    """Trade ids already delivered, per ccxt symbol: each fill goes out once."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self.malformed = 0

    def __len__(self) -> int:
        return len(self._seen)

    def take(self, trade: Any, t: Tracked, venue: str, now_ns: int) -> OrderFilled | None:
        """The OrderFilled for ``trade`` the first time it is seen, else None.

        A malformed trade is counted and skipped, and not marked seen, so a
        corrected answer on a later poll is still delivered.
        """
        key = (t.symbol, str(trade.get("id")))
        if key in self._seen:
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
        self._seen.add(key)
        return fill
