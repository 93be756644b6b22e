"""Thin aiohttp REST client: sign, send with a timeout, account the weight, map errors.

Every request has a timeout. Every answer goes through ``errors.to_exception``
(the single translation point) and the rate limiter. Nothing here logs a URL:
signed query strings exist only inside ``_send`` (P11), and transport
exceptions are described by their type, never by their text (aiohttp puts
the full URL in it).

A ``-1021`` on a signed *read* resyncs the clock and re-signs once (R13).
Orders are never retried here: the venue decides, because only it knows the
client order id and the intent's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final

import aiohttp
import msgspec
import structlog
from yarl import URL

from genesis.errors import ConfigError
from genesis.exchange.binance.clock import ClockSample, ServerClock
from genesis.exchange.binance.errors import TimestampRejected, to_exception
from genesis.exchange.binance.ratelimit import RateLimiter, depth_weight
from genesis.exchange.binance.signing import Credentials, Param, rest_query

__all__ = ["MAX_ORDER_RECV_WINDOW_MS", "BinanceRest"]

log = structlog.get_logger(__name__)

MAX_ORDER_RECV_WINDOW_MS: Final = 5000
_DECODER: Final = msgspec.json.Decoder(float_hook=Decimal)


class BinanceRest:
    """Signed REST access to one Binance spot host.

    Args:
        base_url: e.g. ``https://api.binance.com`` or a loopback test exchange.
        credentials: key and secret; None for public market data only.
        session: an aiohttp session to use (not closed by ``close``); None to own one.
        timeout_s: total timeout of every request.
        recv_window_ms: ``recvWindow`` of signed requests, at most 5,000 (P9).
        clock: the server clock used for ``timestamp``; None for a fresh one.
        limiter: the shared weight and ban state; None for a fresh one.
        monotonic: monotonic seconds, injected for tests.

    Raises:
        ConfigError: ``recv_window_ms`` outside 1..5000 or ``timeout_s`` <= 0.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
        recv_window_ms: int = MAX_ORDER_RECV_WINDOW_MS,
        clock: ServerClock | None = None,
        limiter: RateLimiter | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < recv_window_ms <= MAX_ORDER_RECV_WINDOW_MS:
            raise ConfigError(f"recv_window_ms must be in 1..5000, was {recv_window_ms}")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, was {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.recv_window_ms = recv_window_ms
        self.clock = clock if clock is not None else ServerClock(time.time_ns)
        self.limiter = limiter if limiter is not None else RateLimiter(server_ms=self.clock.now_ms)
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"BinanceRest({self.base_url!r})"

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- the one request path ---------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: Sequence[Param] = (),
        *,
        signed: bool = False,
        weight: int = 1,
        is_order: bool = False,
        timestamp_ms: int | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON (decimals as Decimal).

        Args:
            method: GET, POST or DELETE.
            path: e.g. ``/api/v3/order``.
            params: parameters in send order.
            signed: add ``recvWindow``, ``timestamp`` and ``signature``.
            weight: the endpoint's weight (§5.2), reserved until the header arrives.
            is_order: an order placement or cancel; an unknown outcome then raises
                ``OrderStatusUnknown`` and a -1021 is not retried here.
            timestamp_ms: the ``timestamp`` to sign (default: the server clock now).

        Raises:
            VenueError: a subclass chosen by ``errors.to_exception``.
        """
        try:
            return await self._send(method, path, params, signed, weight, is_order, timestamp_ms)
        except TimestampRejected:
            if is_order or not signed:
                raise
            log.warning("binance_timestamp_rejected", path=path, offset_ms=self.clock.offset_ms)
            await self.sync_clock()
            return await self._send(method, path, params, signed, weight, is_order, None)

    async def _send(
        self,
        method: str,
        path: str,
        params: Sequence[Param],
        signed: bool,
        weight: int,
        is_order: bool,
        timestamp_ms: int | None,
    ) -> Any:
        self.limiter.check(self._monotonic())
        query, headers = self._query(params, signed, timestamp_ms)
        url = URL(f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}",
                  encoded=True)  # fmt: skip
        self.limiter.reserve(weight, self._monotonic())
        session = self._get_session()
        try:
            async with session.request(method, url, headers=headers, timeout=self._timeout) as resp:
                status, body = resp.status, await resp.read()
                self.limiter.on_response(status, resp.headers, self._monotonic())
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise to_exception(0, None, "timeout", path=path, is_order=is_order) from None
        except aiohttp.ClientError as exc:
            # str(exc) may contain the signed URL: describe it by its type only.
            what = f"transport error {type(exc).__name__}"
            raise to_exception(0, None, what, path=path, is_order=is_order) from None
        return _decode(status, body, path, is_order, retry_after)

    def _query(
        self, params: Sequence[Param], signed: bool, timestamp_ms: int | None
    ) -> tuple[str, dict[str, str]]:
        headers: dict[str, str] = {}
        if self._credentials is not None:
            headers["X-MBX-APIKEY"] = self._credentials.api_key
        if not signed:
            return rest_query(params), headers
        if self._credentials is None:
            raise ConfigError("a signed endpoint needs credentials")
        ts = self.clock.now_ms() if timestamp_ms is None else timestamp_ms
        full = [*params, ("recvWindow", str(self.recv_window_ms)), ("timestamp", str(ts))]
        return self._credentials.signed_query(full), headers

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # --- clock -------------------------------------------------------------------

    async def sync_clock(self, samples: int = 3) -> float:
        """Measure the server offset from ``samples`` (>= 3) ``/api/v3/time`` calls; return ms."""
        taken = []
        for _ in range(max(3, samples)):
            sent = self.clock.local_ns()
            data = await self._send("GET", "/api/v3/time", (), False, 1, False, None)
            received = self.clock.local_ns()
            server_ms = data.get("serverTime") if isinstance(data, dict) else None
            if type(server_ms) is not int:
                raise to_exception(200, None, "bad serverTime", path="/api/v3/time",
                                   is_order=False)  # fmt: skip
            taken.append(ClockSample(sent, server_ms, received))
        offset = self.clock.update(taken)
        log.info("binance_clock_synced", offset_ms=round(offset, 3),
                 uncertainty_ms=round(self.clock.uncertainty_ms, 3),
                 degraded=self.clock.degraded)  # fmt: skip
        return offset

    # --- endpoints ------------------------------------------------------------------

    async def exchange_info(self) -> Any:
        return await self.request("GET", "/api/v3/exchangeInfo", weight=20)

    async def depth(self, symbol: str, limit: int = 1000) -> Any:
        params = [("symbol", symbol), ("limit", str(limit))]
        return await self.request("GET", "/api/v3/depth", params, weight=depth_weight(limit))

    async def place_order(self, params: Sequence[Param], timestamp_ms: int) -> Any:
        return await self.request("POST", "/api/v3/order", params, signed=True,
                                  is_order=True, timestamp_ms=timestamp_ms)  # fmt: skip

    async def place_oco(self, params: Sequence[Param], timestamp_ms: int) -> Any:
        return await self.request("POST", "/api/v3/orderList/oco", params, signed=True,
                                  is_order=True, timestamp_ms=timestamp_ms)  # fmt: skip

    async def cancel_order(self, symbol: str, client_order_id: str) -> Any:
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return await self.request("DELETE", "/api/v3/order", params, signed=True, is_order=True)

    async def cancel_open_orders(self, symbol: str) -> Any:
        params = [("symbol", symbol)]
        return await self.request("DELETE", "/api/v3/openOrders", params, signed=True,
                                  is_order=True)  # fmt: skip

    async def query_order(self, symbol: str, client_order_id: str) -> Any:
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return await self.request("GET", "/api/v3/order", params, signed=True, weight=4)

    async def open_orders(self, symbol: str | None = None) -> Any:
        params = [("symbol", symbol)] if symbol else []
        return await self.request("GET", "/api/v3/openOrders", params, signed=True,
                                  weight=6 if symbol else 80)  # fmt: skip

    async def my_trades(self, symbol: str, from_id: int | None = None, limit: int = 1000) -> Any:
        params = [("symbol", symbol), ("limit", str(limit))]
        if from_id is not None:
            params.append(("fromId", str(from_id)))
        return await self.request("GET", "/api/v3/myTrades", params, signed=True, weight=20)

    async def account(self) -> Any:
        return await self.request("GET", "/api/v3/account", signed=True, weight=20)


def _retry_after(value: str | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def _decode(status: int, body: bytes, path: str, is_order: bool, retry_after: float) -> Any:
    try:
        data = _DECODER.decode(body) if body else None
    except msgspec.DecodeError:
        data = None
        if status < 400:  # a truncated success: the request may well have executed
            raise to_exception(status, None, "unparsable response body", path=path,
                               is_order=is_order) from None  # fmt: skip
    if status < 400 and data is not None:
        return data
    code = data.get("code") if isinstance(data, dict) else None
    msg = data.get("msg") if isinstance(data, dict) else None
    code = code if type(code) is int else None
    raise to_exception(status if status >= 400 else 500, code,
                       msg if isinstance(msg, str) else "", path=path, is_order=is_order,
                       retry_after_s=retry_after)  # fmt: skip
