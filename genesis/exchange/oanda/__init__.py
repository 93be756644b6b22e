"""The native OANDA v20 client (EX-4, FX): REST, streams, error mapping and the live venue.

* ``rest.OandaClient``: accounts, instruments (pip location, display and trade
  units precision, margin rate), pricing, orders, trades, positions and
  transactions, rate-limited (``RequestLimiter``), errors mapped once (``errors``);
* ``orders.order_request``: MARKET / LIMIT / STOP / MARKET_IF_TOUCHED bodies with
  take-profit, stop-loss and trailing-stop on fill, FOK / IOC / GTC / GTD / GFD;
* ``streams.PriceStream`` / ``TransactionStream``: chunked HTTP lines,
  heartbeats, stall detection, reconnect with backoff, transaction backfill;
* ``venue.OandaVenue``: a ``LiveVenue``; modify is an order replace (``replace``);
  the daemon trades through it as ``genesis.daemon.oanda_live.OandaLive``.

Tested against ``genesis.exchange.oanda_sandbox`` (``python -m genesis oanda-sandbox``).
"""

from __future__ import annotations

from genesis.exchange.oanda.orders import OrderTerms, exit_order_request, order_request
from genesis.exchange.oanda.rest import OandaClient, OandaInstrument, Price, RequestLimiter
from genesis.exchange.oanda.streams import PriceStream, TransactionStream

__all__ = [
    "OandaClient",
    "OandaInstrument",
    "OrderTerms",
    "Price",
    "PriceStream",
    "RequestLimiter",
    "TransactionStream",
    "exit_order_request",
    "order_request",
]
