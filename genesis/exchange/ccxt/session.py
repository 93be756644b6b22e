"""The guarded ccxt session: every call goes through one seam that maps and scrubs errors.

``CcxtSession`` owns the ccxt exchange object for the venue: it switches
ccxt to decimal strings (``number = str``), keeps ``enableRateLimit`` on,
gives ccxt a private stdlib logger whose lines are scrubbed (ccxt logs
signed URLs and the API key header at DEBUG), and turns every exception a
call raises into a Genesis ``VenueError`` raised outside the ``except``
block, so neither ``__cause__`` nor ``__context__`` carries ccxt's
unscrubbed message.

With a ccxt.pro exchange the session also counts the closes of its
WebSocket clients (``ws_closes``): ccxt reconnects inside the next ``watch_*``
call, so a close between two calls is otherwise invisible to the caller. A
user data stream the venue ended on an open socket (binance
``eventStreamTerminated``) counts too, and every call pending on that socket
is failed: ccxt only forgets the subscription, so the calls would otherwise
wait forever on a stream that no longer delivers.
"""

from __future__ import annotations

import decimal
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import ccxt

from genesis.core.instruments import Instrument
from genesis.errors import ConfigError, OrderRejectedByVenue, VenueError
from genesis.exchange.ccxt.errors import OrderNotFound, Scrubber, ScrubFilter, to_genesis
from genesis.exchange.ccxt.mapping import instrument_from_market

__all__ = ["CcxtSession"]

_UNSUPPORTED = frozenset({"ArgumentsRequired", "NotSupported"})

# ccxt.pro classes whose ``authenticate({"type": ...})`` subscribes the user data stream and
# returns only once the venue acknowledged it (binance spot, ccxt >= 4.5: the WS API
# ``userDataStream.subscribe.signature`` answer). Elsewhere the first event proves the stream.
ACKED_USER_STREAM: Final = frozenset({"binance"})

# ccxt.pro's caches (the same attribute names in every ccxt.pro class) by watch method, and
# whether they are keyed by symbol first. See ``cached``.
_CACHES: Final = {
    "watch_my_trades": ("myTrades", False),
    "watch_orders": ("orders", False),
    "watch_trades": ("trades", True),
    "watch_order_book": ("orderbooks", True),
}
_CACHE_TAIL: Final = 100


class CcxtSession:
    """One ccxt ``async_support`` exchange behind the error seam (see the module docstring)."""

    def __init__(self, exchange: Any, venue: str) -> None:
        self.exchange = exchange
        self.venue = venue
        self.scrub = Scrubber(
            getattr(exchange, attr, None)
            for attr in ("apiKey", "secret", "password", "uid", "privateKey", "token")
        )
        exchange.number = str
        exchange.enableRateLimit = True
        exchange.enableLastJsonResponse = True  # the venue's error code (see _body_code)
        exchange.enableLastResponseHeaders = True  # Retry-After
        wire = logging.getLogger(f"genesis.exchange.ccxt.wire.{venue.lower()}")
        if not any(isinstance(f, ScrubFilter) for f in wire.filters):
            wire.addFilter(ScrubFilter(self.scrub))
        exchange.logger = wire
        self.ws_closes = 0
        self._count_ws_closes()
        self._fail_watches_on_stream_end()

    def _count_ws_closes(self) -> None:
        # ccxt.pro hands each new client the exchange's on_close/on_error; wrap them per object.
        for name in ("on_close", "on_error"):
            original = getattr(self.exchange, name, None)
            if callable(original):
                setattr(self.exchange, name, self._counting(original))

    def _counting(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            self.ws_closes += 1
            return original(*args)

        return counted

    def _fail_watches_on_stream_end(self) -> None:
        original = getattr(self.exchange, "handle_event_stream_terminated", None)
        if not callable(original):
            return

        def ended(client: Any, message: Any) -> None:
            original(client, message)
            self.ws_closes += 1
            client.reject(ccxt.NetworkError("user data stream terminated by the venue"))

        self.exchange.handle_event_stream_terminated = ended

    def has(self, feature: str) -> bool:
        """Whether the exchange's ccxt class declares ``feature`` (e.g. ``watchMyTrades``)."""
        return bool((getattr(self.exchange, "has", None) or {}).get(feature))

    def native(self, feature: str) -> bool:
        """Whether the exchange itself does ``feature``: declared ``True``, not ccxt's
        ``"emulated"`` stand-in (its ``editOrder`` cancels and creates blindly)."""
        return (getattr(self.exchange, "has", None) or {}).get(feature) is True

    async def user_stream_ready(self, market_type: str) -> bool:
        """Subscribe the user data stream and wait for the venue's answer, where ccxt can.

        Returns:
            True once the venue acknowledged the subscription (``ACKED_USER_STREAM``);
            False at once for other venues: their stream is unproven until it delivers.

        Raises:
            VenueError: the subscription failed (mapped, scrubbed).
        """
        if str(self.exchange.id) not in ACKED_USER_STREAM or not self.has("ws"):
            return False
        await self.call("authenticate", {"type": market_type})
        return True

    def cached(self, method: str, symbol: str | None = None) -> Any:
        """What ccxt.pro holds now for ``method``'s subscription, or None.

        ccxt reads every buffered frame in one go and wakes only the call
        pending at that moment, so a frame handled between a result and the
        next call is kept in ccxt's cache and returned only with the frame
        after it. Reading the cache after re-arming the call closes that hole.

        Returns:
            the last 100 items of a list cache (trades, my trades, orders), the
            order book itself, or None when ccxt holds nothing (yet).
        """
        name, by_symbol = _CACHES.get(method, ("", False))
        cache = getattr(self.exchange, name, None) if name else None
        if by_symbol:
            cache = cache.get(symbol) if isinstance(cache, Mapping) and symbol else None
        if isinstance(cache, list):
            return list(cache[-_CACHE_TAIL:])
        return cache

    def __repr__(self) -> str:
        return f"CcxtSession(venue={self.venue!r}, exchange={self.exchange.id!r})"

    async def call(self, what: str, *args: Any, is_order: bool = False, **kwargs: Any) -> Any:
        """``await exchange.<what>(*args, **kwargs)`` with errors mapped (``to_genesis``).

        Raises:
            VenueError: the mapped exception; its message is scrubbed.
        """
        # ccxt's number formatting sets the Decimal context's rounding (half up) and traps
        # underflow on the context it finds: a local one keeps the process's money arithmetic
        # (half even, as in backtest) untouched, in this task and the tasks ccxt starts here
        with decimal.localcontext():
            try:
                return await getattr(self.exchange, what)(*args, **kwargs)
            except Exception as exc:  # every failure crosses the seam mapped
                error = self._map(exc, what, is_order)
        raise error

    def _map(self, exc: Exception, what: str, is_order: bool) -> VenueError:
        headers = getattr(self.exchange, "last_response_headers", None)
        return to_genesis(
            exc,
            self.scrub,
            is_order=is_order,
            what=what,
            headers=dict(headers) if isinstance(headers, Mapping) else None,
            code=self._body_code(exc),
        )

    def _body_code(self, exc: Exception) -> str | None:
        # ccxt drops the venue's code from messages it matched by text; the last JSON body
        # has it. Concurrent requests share that attribute, so it counts only when its
        # message is the one in this exception.
        body = getattr(self.exchange, "last_json_response", None)
        if isinstance(body, Mapping) and body.get("code") is not None:
            msg = body.get("msg") or body.get("message")
            if isinstance(msg, str) and msg and msg in str(exc):
                return str(body["code"])
        return None

    async def load_instruments(self, market_types: tuple[str, ...]) -> dict[str, Instrument]:
        """Load ccxt markets; one Instrument per market id of the wanted types.

        Markets whose increments cannot be expressed (significant-digit
        precision) are left out rather than failing the venue.
        """
        await self.call("load_markets")
        out: dict[str, Instrument] = {}
        mode = int(self.exchange.precisionMode)
        for market in self.exchange.markets.values():
            if market.get("type") not in market_types or market.get("id") in out:
                continue
            try:
                out[str(market["id"])] = instrument_from_market(market, mode, self.venue)
            except ConfigError:
                continue
        return out

    def unified(self, instrument_id: str, market_types: tuple[str, ...]) -> str | None:
        """The ccxt unified symbol for a venue market id (``BTCUSDT`` or ``venue:BTCUSDT``).

        Returns None when the market is unknown.
        """
        market_id = instrument_id.partition(":")[2] if ":" in instrument_id else instrument_id
        by_id = self.exchange.markets_by_id or {}
        found = by_id.get(market_id) or []
        if not found and ":" in instrument_id:  # instrument_id() upper-cases the venue's id
            found = next((m for k, m in by_id.items() if str(k).upper() == market_id), [])
        for market in found:
            if market.get("type") in market_types:
                return str(market["symbol"])
        return None

    async def find_order(self, symbol: str, client_order_id: str, since_ms: int) -> Any:
        """The venue's order with ``client_order_id``, queried by that id (never by a resend).

        Uses ccxt's unified ``clientOrderId`` parameter of ``fetch_order``; a venue
        whose ccxt class cannot query by client id is searched through its open
        and closed orders instead.

        Raises:
            OrderNotFound: the venue does not show it.
            VenueError: the query itself failed.
        """
        try:
            return await self.call("fetch_order", None, symbol, {"clientOrderId": client_order_id})
        except OrderRejectedByVenue as exc:
            if str(exc.code) not in _UNSUPPORTED:
                raise
        return await self._scan_for(symbol, client_order_id, since_ms)

    async def _scan_for(self, symbol: str, client_order_id: str, since_ms: int) -> Any:
        has = self.exchange.has
        orders = list(await self.call("fetch_open_orders", symbol))
        if has.get("fetchClosedOrders"):
            orders += await self.call("fetch_closed_orders", symbol, since_ms)
        for order in orders:
            if order.get("clientOrderId") == client_order_id:
                return order
        raise OrderNotFound(f"fetch_open_orders/closed: no order {client_order_id} on {symbol}")

    def default_settle_s(self) -> float:
        """Seconds after a send when "not found" proves absence: recvWindow + 1 s if signed so."""
        recv_window = (self.exchange.options or {}).get("recvWindow")
        return float(recv_window) / 1000.0 + 1.0 if recv_window else 10.0

    async def close(self) -> None:
        await self.exchange.close()
