"""A local OANDA v20-compatible server over the kernel's ``SimulatedVenue``.

``python -m genesis oanda-sandbox`` binds to loopback, accepts only the
configured token and replays the bundled GBP/USD bid/ask minutes (real FXCM
data, February 2012). OANDA's own ``v20`` Python client works against it
unmodified, as does the native client ``genesis.exchange.oanda``.

Served (one host for OANDA's REST and stream hosts), under ``/v3``:
accounts, account (full and ``/summary``), instruments, pricing, the pricing
and transaction streams (chunked, one JSON object per line, ``HEARTBEAT``
every ``heartbeat_s``), ``transactions/sinceid`` and ``/{id}``; orders
(MARKET, LIMIT, STOP, MARKET_IF_TOUCHED; take-profit, stop-loss (price or
distance) and trailing-stop on fill; FOK, IOC, GTC, GTD, GFD; priceBound,
positionFill, client extensions, ``@clientID`` specifiers), TAKE_PROFIT /
STOP_LOSS / TRAILING_STOP_LOSS posted for an open trade, order cancel, order
replace (``PUT /orders/{spec}``: the cancel, reason CLIENT_REQUEST_REPLACED with
``replacedByOrderID``, and the replacement, reason REPLACEMENT with
``replacesOrderID``, in one batch; the replacement may keep the replaced
order's client id);
trades (list, get, close all or part); positions (list, get, close long or
short, all or part). Rejections carry OANDA's ``*_REJECT`` transaction with
``errorCode`` and ``errorMessage``; times follow ``Accept-Datetime-Format``
(RFC3339 with nanoseconds, or UNIX). Fault hooks (``faults.py``) are armed
in-process or on the control port (``control.py``), each firing counted.

Known deviations from OANDA
---------------------------
* One instrument (GBP_USD); the account currency is USD, its quote currency,
  so P/L needs no conversion. No financing, commission, dividends, margin
  calls or closeouts; margin is checked only when a MARKET order opens units.
* Quotes are the 1-minute bars' closes; each side shows 10,000,000 units of
  liquidity; times are the replay's (February 2012), not the wall clock, and
  they jump back when the replay wraps at the end of the file.
* GFD is accepted and kept like GTC (no trading-day end); trigger conditions
  other than DEFAULT, guaranteed stops, replacing a trade's dependent order
  (TAKE_PROFIT, STOP_LOSS, TRAILING_STOP_LOSS: 404; only entry orders are
  replaced), ``PUT /trades/{spec}/orders``, client-extension edits, candles, order book,
  ``/changes`` and the 2 new connections per second limit are not served.
* Trade ids are the opening fill's transaction id, as on OANDA; account,
  user and request ids are fixed test values.
"""

from __future__ import annotations

from genesis.exchange.oanda_sandbox.faults import OandaFaultPlan
from genesis.exchange.oanda_sandbox.server import OandaSandboxConfig, OandaSandboxServer

__all__ = ["OandaFaultPlan", "OandaSandboxConfig", "OandaSandboxServer"]
