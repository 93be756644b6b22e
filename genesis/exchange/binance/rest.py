"""Thin aiohttp REST client: sign, send with a timeout, account the weight, map errors.

Every request has a timeout. Every answer goes through ``errors.to_exception``
(the single translation point) and the rate limiter. Nothing here logs a URL:
signed query strings exist only inside ``_send`` (P11), and transport
exceptions are described by their type, never by their text (aiohttp puts
the full URL in it).

A ``-1021`` on a signed *read* resyncs the clock and re-signs once (R13).
Orders are never retried here: the venue decides, because only it knows the
client order id and the intent's state.

Rate-limit state (weight, Retry-After, bans, order counts) and the server
clock are shared with every other client of the process that talks to the
same host (``shared.SharedLimits``, P8): after a 429 or 418 seen by any of
them, none sends before Retry-After. With ``wait_rate_limits`` a *read* that
meets such a period (a 429/418 answer, or one another client drew) waits it
out, logging one line, and is sent again; without it, ``RateLimited`` is raised.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Final

import aiohttp
import msgspec
import structlog
from yarl import URL

from genesis.errors import ConfigError, RateLimited
from genesis.exchange.binance.clock import ClockSample, ServerClock
from genesis.exchange.binance.errors import TimestampRejected, to_exception
from genesis.exchange.binance.ratelimit import RateLimiter, depth_weight
from genesis.exchange.binance.shared import HostState, SharedLimits, process_limits
from genesis.exchange.binance.signing import Credentials, Param, rest_query
from genesis.retry import Backoff, BackoffPolicy, retry

__all__ = ["MAX_ORDER_RECV_WINDOW_MS", "BinanceRest"]

log = structlog.get_logger(__name__)

MAX_ORDER_RECV_WINDOW_MS: Final = 5000
_DECODER: Final = msgspec.json.Decoder(float_hook=Decimal)
_PLACEMENTS: Final = frozenset({"/api/v3/order", "/api/v3/orderList/oco"})
# waits of a patient read: at least Retry-After, and growing if the venue keeps refusing
_PATIENCE: Final = BackoffPolicy(initial_s=1.0, cap_s=60.0)


class BinanceRest:
    """Signed REST access to one Binance spot host.

    Args:
        base_url: e.g. ``https://api.binance.com`` or a loopback test exchange.
        credentials: key and secret; None for public market data only.
        session: an aiohttp session to use (not closed by ``close``); None to own one.
        timeout_s: total timeout of every request.
        recv_window_ms: ``recvWindow`` of signed requests, at most 5,000 (P9).
        clock: a server clock of this client's own; None for the host's shared one.
        limiter: weight and ban state of this client's own; None for the shared one.
        shared: the registry of shared state; None for ``process_limits()``. Not
            combined with ``clock`` or ``limiter`` (those make the client private).
        monotonic: monotonic seconds, injected for tests.
        sleep: the wait of ``wait_rate_limits``, injected for tests.
        wait_rate_limits: reads wait out a Retry-After instead of raising ``RateLimited``.

    Raises:
        ConfigError: ``recv_window_ms`` outside 1..5000, ``timeout_s`` <= 0, or
            ``shared`` given together with ``clock`` or ``limiter``.
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
        shared: SharedLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wait_rate_limits: bool = False,
    ) -> None:
        own = clock is not None or limiter is not None
        _check_config(recv_window_ms, timeout_s, mixed=shared is not None and own)
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.recv_window_ms = recv_window_ms
        self._host: HostState | None = None  # keeps the shared state alive while we live
        if not own:
            key = credentials.api_key if credentials is not None else None
            self._host, limiter = (shared or process_limits()).limiter(self.base_url, key)
            clock = self._host.clock
        self.clock = clock if clock is not None else ServerClock(time.time_ns)
        self.limiter = limiter if limiter is not None else RateLimiter(server_ms=self.clock.now_ms)
        self._monotonic = monotonic
        self._sleep = sleep
        self.wait_rate_limits = wait_rate_limits

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
            method, path, params: e.g. GET, ``/api/v3/order``, parameters in send order.
            signed: add ``recvWindow``, ``timestamp`` and ``signature``.
            weight: the endpoint's weight (§5.2), reserved until the header arrives.
            is_order: an order placement or cancel; an unknown outcome then raises
                ``OrderStatusUnknown``; neither a -1021 nor a rate limit is retried here.
            timestamp_ms: the ``timestamp`` to sign (default: the server clock now).

        Raises:
            VenueError: a subclass chosen by ``errors.to_exception``.
        """

        async def once() -> Any:
            return await self._request_once(method, path, params, signed, weight, is_order,
                                            timestamp_ms)  # fmt: skip

        if is_order or not self.wait_rate_limits:
            return await once()

        def waiting(attempt: int, exc: Exception, delay_s: float) -> None:
            log.warning("binance_rate_limit_wait", path=path, wait_s=round(delay_s, 1),
                        reason=str(exc), attempt=attempt)  # fmt: skip

        return await retry(once, retry_on=lambda e: isinstance(e, RateLimited),
                           backoff=Backoff(_PATIENCE), on_retry=waiting, wait_hint=_wait_hint,
                           sleep=self._sleep)  # fmt: skip

    async def _request_once(
        self, method: str, path: str, params: Sequence[Param], signed: bool, weight: int,
        is_order: bool, timestamp_ms: int | None,
    ) -> Any:  # fmt: skip
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
        self.limiter.check(self._monotonic(), placing=is_order and path in _PLACEMENTS)
        query, headers = self._query(params, signed, timestamp_ms)
        url = URL(f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}",
                  encoded=True)  # fmt: skip
        self.limiter.reserve(weight, self._monotonic())
        session = self._get_session()
        try:
            async with session.request(method, url, headers=headers, timeout=self._timeout) as resp:
                status, body = resp.status, await resp.read()
                data, readable = _parse(body)
                self.limiter.on_response(status, resp.headers, self._monotonic(),
                                         code=_error_code(data))  # fmt: skip
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise to_exception(0, None, "timeout", path=path, is_order=is_order) from None
        except aiohttp.ClientError as exc:
            # str(exc) may contain the signed URL: describe it by its type only.
            what = f"transport error {type(exc).__name__}"
            raise to_exception(0, None, what, path=path, is_order=is_order) from None
        return _result(status, data, readable, path, is_order, retry_after)

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
            data = await self.request("GET", "/api/v3/time")
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

    async def exchange_info(self, symbols: Sequence[str] = ()) -> Any:
        """``exchangeInfo`` (of ``symbols`` only, when given: same weight, far less to parse).

        Its REQUEST_WEIGHT limit becomes the limiter's (§0: read it, never hard-code it).
        """
        params = [("symbols", json.dumps(list(symbols), separators=(",", ":")))] if symbols else []
        info = await self.request("GET", "/api/v3/exchangeInfo", params, weight=20)
        limit = _weight_limit(info)
        if limit is not None:
            self.limiter.ip.weight_limit = limit
        return info

    async def book_ticker(self, symbol: str) -> Any:
        """Best bid and ask of one symbol (weight 2; ``depth`` at limit 5 weighs 5)."""
        params = [("symbol", symbol)]
        return await self.request("GET", "/api/v3/ticker/bookTicker", params, weight=2)

    async def depth(self, symbol: str, limit: int = 1000) -> Any:
        params = [("symbol", symbol), ("limit", str(limit))]
        return await self.request("GET", "/api/v3/depth", params, weight=depth_weight(limit))

    async def place_order(self, params: Sequence[Param], timestamp_ms: int) -> Any:
        return await self.request("POST", "/api/v3/order", params, signed=True,
                                  is_order=True, timestamp_ms=timestamp_ms)  # fmt: skip

    async def place_oco(self, params: Sequence[Param], timestamp_ms: int) -> Any:
        return await self.request("POST", "/api/v3/orderList/oco", params, signed=True,
                                  is_order=True, timestamp_ms=timestamp_ms)  # fmt: skip

    async def cancel_replace(self, params: Sequence[Param], timestamp_ms: int) -> Any:
        """``POST /api/v3/order/cancelReplace`` (weight 1, counts as an order)."""
        return await self.request("POST", "/api/v3/order/cancelReplace", params, signed=True,
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


def _check_config(recv_window_ms: int, timeout_s: float, *, mixed: bool) -> None:
    if not 0 < recv_window_ms <= MAX_ORDER_RECV_WINDOW_MS:
        raise ConfigError(f"recv_window_ms must be in 1..5000, was {recv_window_ms}")
    if timeout_s <= 0:
        raise ConfigError(f"timeout_s must be > 0, was {timeout_s}")
    if mixed:
        raise ConfigError("BinanceRest: give shared state, or a clock/limiter of its own, not both")


def _retry_after(value: str | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def _wait_hint(exc: Exception) -> float | None:
    return exc.retry_after_s if isinstance(exc, RateLimited) else None


def _weight_limit(info: Any) -> int | None:
    """REQUEST_WEIGHT per 1 MINUTE from ``exchangeInfo.rateLimits``, if present."""
    limits = info.get("rateLimits") if isinstance(info, dict) else None
    for row in limits if isinstance(limits, list) else ():
        if (
            isinstance(row, dict)
            and row.get("rateLimitType") == "REQUEST_WEIGHT"
            and row.get("interval") == "MINUTE"
            and row.get("intervalNum") == 1
            and type(row.get("limit")) is int
            and row["limit"] > 0
        ):
            return int(row["limit"])
    return None


def _parse(body: bytes) -> tuple[Any, bool]:
    """The decoded body and whether it decoded (an empty body is readable: None)."""
    try:
        return (_DECODER.decode(body) if body else None), True
    except msgspec.DecodeError:
        return None, False


def _error_code(data: Any) -> int | None:
    code = data.get("code") if isinstance(data, dict) else None
    return code if type(code) is int else None


def _result(
    status: int, data: Any, readable: bool, path: str, is_order: bool, retry_after: float
) -> Any:
    if not readable and status < 400:  # a truncated success: the request may well have executed
        raise to_exception(status, None, "unparsable response body", path=path,
                           is_order=is_order)  # fmt: skip
    if status < 400 and data is not None:
        return data
    msg = data.get("msg") if isinstance(data, dict) else None
    raise to_exception(status if status >= 400 else 500, _error_code(data),
                       msg if isinstance(msg, str) else "", path=path, is_order=is_order,
                       retry_after_s=retry_after)  # fmt: skip
