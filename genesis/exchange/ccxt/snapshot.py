"""Start-up reconciliation: what the venue holds, read through ccxt (``LiveVenue.snapshot``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from genesis.core.events import OrderFilled
from genesis.errors import ConfigError
from genesis.exchange.ccxt.mapping import balances_from_ccxt, fill_from_trade, order_from_ccxt
from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.ccxt.tracking import Tracked
from genesis.exchange.live import VenueOrder, VenueSnapshot

__all__ = ["take_snapshot"]

# Venues whose own-trades endpoint pages forward from a trade id (ccxt passes params through).
# Elsewhere the newest page is read and filtered, which is enough only while fewer trades
# than the venue's page size happened since the last known id.
FROM_ID_PARAM: Final = {"binance": "fromId", "binanceus": "fromId"}


async def take_snapshot(
    session: CcxtSession,
    market_types: tuple[str, ...],
    instruments: list[str],
    since_trade_ids: dict[str, int],
    tracked: Mapping[str, Tracked],
    clock: Callable[[], int],
) -> VenueSnapshot:
    """Open orders and own fills per instrument, and the account's balances.

    Raises:
        ConfigError: an instrument is not one of the venue's markets.
        VenueError: a query failed (mapped, scrubbed).
    """
    opened: list[VenueOrder] = []
    fills: list[OrderFilled] = []
    for instrument_id in instruments:
        symbol = session.unified(instrument_id, market_types)
        if symbol is None:
            raise ConfigError(f"{session.venue}: {instrument_id} is not a market")
        orders = [
            order_from_ccxt(o, instrument_id)
            for o in await session.call("fetch_open_orders", symbol)
        ]
        opened += orders
        since = since_trade_ids.get(instrument_id)
        fills += await _fills_since(session, symbol, instrument_id, since, tracked, orders, clock)
    balances = balances_from_ccxt(await session.call("fetch_balance"))
    return VenueSnapshot(open_orders=tuple(opened), balances=balances, fills=tuple(fills))


async def _fills_since(
    session: CcxtSession,
    symbol: str,
    instrument_id: str,
    since: int | None,
    tracked: Mapping[str, Tracked],
    opened: list[VenueOrder],
    clock: Callable[[], int],
) -> list[OrderFilled]:
    param = FROM_ID_PARAM.get(str(session.exchange.id))
    params = {param: since + 1} if param and since is not None else {}
    trades = [
        t
        for t in await session.call("fetch_my_trades", symbol, None, None, params)
        if since is None or _after(t.get("id"), since)
    ]
    owners = {
        t.venue_order_id: (cid, t.cmd.strategy_id) for cid, t in tracked.items() if t.venue_order_id
    }
    owners.update(
        {
            o.venue_order_id: (o.client_order_id, "")
            for o in opened
            if o.venue_order_id not in owners
        }
    )
    out = []
    for trade in trades:
        order_id = str(trade.get("order") or "")
        if order_id not in owners:
            order = await session.call("fetch_order", order_id, symbol)
            owners[order_id] = (str(order.get("clientOrderId") or ""), "")
        cid, strategy = owners[order_id]
        out.append(
            fill_from_trade(
                trade,
                venue=session.venue,
                instrument_id=instrument_id,
                client_order_id=cid,
                strategy_id=strategy,
                ts_init=clock(),
            )
        )
    return out


def _after(trade_id: Any, since: int) -> bool:
    try:
        return int(str(trade_id)) > since
    except ValueError:
        return True  # a venue with non-numeric trade ids: the caller dedupes by id
