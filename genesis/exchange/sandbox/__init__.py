"""A local Binance Spot-compatible test exchange served from the kernel's ``SimulatedVenue``.

Binds to loopback only and accepts only the configured (canary) key. Used by
the SIM reliability tests (protocol reference §14; reliability plan R2-R24).

Served
------
* REST ``/api/v3``: ping, time, exchangeInfo (symbol/symbols/symbolStatus),
  depth, trades, klines (history from real bar files, 1m..1d, ``klines.py``;
  else 1m from replayed klines and trades),
  ticker/bookTicker, POST/DELETE order, POST order/test, GET order,
  GET/DELETE openOrders, allOrders, myTrades (orderId, fromId), account,
  rateLimit/order, POST orderList/oco, DELETE/GET orderList, openOrderList;
  legacy ``userDataStream`` listenKey endpoints when ``legacy_listen_key``.
  Weights of §5.2, ``X-MBX-USED-WEIGHT(-1M)`` and ``X-MBX-ORDER-COUNT-10S/1D``
  headers, fixed-window 429 + Retry-After then 418 bans, HMAC-SHA256 over the
  query and body as sent, both §3.3 timing checks on a skewable clock, and
  the §8.3 check order with Binance's codes and messages.
* Market streams: ``/ws/<name>``, ``/stream?streams=``, SUBSCRIBE /
  UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY, the 5
  messages/s limit (the connection is dropped), pings, ``depthUpdate``
  batched per ``depth_interval_s`` with contiguous U/u, ``bookTicker`` in the
  same id space, trade, aggTrade, kline_1m, serverShutdown.
* WS API ``/ws-api/v3``: ping, time, session.status,
  userDataStream.subscribe.signature (§3.4 signing), userDataStream.unsubscribe;
  enveloped executionReport, outboundAccountPosition, listStatus,
  balanceUpdate, eventStreamTerminated.
* Replay of the bundled 2021 capture (its snapshots answer REST depth, its
  diffs are the stream); ``set_book`` / ``trade`` for deterministic tests.
* Fault hooks (``faults.py``) settable in-process or on the control port,
  each counted; the ground-truth ledger (``ledger.py``), also at
  ``GET <control_url>/ledger``.

Known deviations from real Binance
----------------------------------
* Matching is ``SimulatedVenue``'s: our fills do not deplete the public book
  and our resting orders are not shown in it; a resting order fills (as
  maker, at its price) when the book or a public trade crosses it.
* Commission is charged in the quote asset for both sides (Binance charges
  the received asset), at ``maker_bps``/``taker_bps`` (default 10). A BUY
  locks ``price x qty x (1 + max fee rate)``, as the venue does; Binance
  locks ``price x qty``. Values needing more than 8 decimals (fees) are sent
  with all their digits rather than rounded, so the wire equals the ledger.
* Conditional orders (STOP_LOSS*, TAKE_PROFIT*) and OCO lists are held by
  the protocol layer (the venue cannot trigger TAKE_PROFIT downward for a
  buy, and triggers on its book mid, not the last trade); trailing stops,
  iceberg orders, STP modes, OTO/OTOCO, cancelReplace, amend, SOR, pegs and
  order placement over the WS API are not served.
* Replayed capture messages keep their recorded 2021 event times; a symbol
  replaced with ``set_book`` stops following the capture.
* The pong deadline of 1 minute is not enforced; client ping frames are
  answered by aiohttp and do not count toward the 5 messages/s limit.
* Klines of a symbol with a history file are only that file's bars (and their
  aggregates to coarser intervals); quote volume, trade count and taker volumes
  are 0 there, as the files do not hold them.
* Unfilled-order counts: every accepted order counts, its first fill
  uncounts it (no per-interval bookkeeping of which window it came from).
"""

from __future__ import annotations

from genesis.exchange.sandbox.config import SandboxConfig
from genesis.exchange.sandbox.faults import FUZZ_CORPUS, FaultPlan
from genesis.exchange.sandbox.server import SandboxServer

__all__ = ["FUZZ_CORPUS", "FaultPlan", "SandboxConfig", "SandboxServer"]
