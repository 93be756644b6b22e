"""``myTrades`` backfill of the Binance venue: pages of own trades and their events.

Kept apart from ``venue`` (the order path) because it only reads: rows are
fetched after a trade id and turned into fills through the ``OrderTracker``,
which delivers each fill once whatever else reported it (P4).
"""

from __future__ import annotations

from typing import Any

from genesis.core.events import OrderEvent
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.tracker import OrderTracker

__all__ = ["row_events", "trades_after"]


async def trades_after(rest: BinanceRest, symbol: str, last_id: int, limit: int) -> list[Any]:
    """Every own trade of ``symbol`` after ``last_id`` (-1: from the start), page by page."""
    rows: list[Any] = []
    while True:
        page = await rest.my_trades(symbol, from_id=last_id + 1 if last_id >= 0 else None,
                                    limit=limit)  # fmt: skip
        if not isinstance(page, list) or not page:
            return rows
        rows += page
        last_id = max(int(r.get("id", last_id)) for r in page)
        if len(page) < limit:
            return rows


async def row_events(
    rest: BinanceRest, tracker: OrderTracker, symbol: str, rows: list[Any], *, foreign: bool
) -> list[OrderEvent]:
    """Events of ``myTrades`` rows, in order.

    A row only names its ``orderId``. When that id is not mapped yet (every order,
    after a restart; an order whose stream events were all lost), one query by
    ``orderId`` tells its ``clientOrderId``: a tracked order is bound and gets the
    fill; any other order's fill is reported with ``foreign`` (snapshot), else only
    its trade id is consumed. A failed query raises: the rows are read again later.
    """
    events: list[OrderEvent] = []
    learned: dict[int, Any] = {}
    for row in rows:
        oid = row.get("orderId") if isinstance(row, dict) else None
        if type(oid) is int and tracker.client_id_of(symbol, str(oid)) is None:
            if oid not in learned:
                learned[oid] = await rest.request(
                    "GET", "/api/v3/order", [("symbol", symbol), ("orderId", str(oid))],
                    signed=True, weight=4)  # fmt: skip
            data = learned[oid]
            cid = data.get("clientOrderId") if isinstance(data, dict) else None
            if isinstance(cid, str) and not tracker.bind(cid, symbol, oid):
                events += tracker.foreign_fill(row, data) if foreign else []
                tracker.on_trade_row(row)  # consumes the trade id only
                continue
        events += tracker.on_trade_row(row)
    return events
