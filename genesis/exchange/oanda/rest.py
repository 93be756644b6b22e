"""``OandaClient``: the v20 REST API on aiohttp (accounts, instruments, pricing, orders,
trades, positions, transactions).

Every request passes the client's ``RequestLimiter`` (OANDA allows 100 REST
requests per second per connection), sends ``Authorization: Bearer`` and
``Accept-Datetime-Format: RFC3339``, and maps any non-2xx answer through
``errors.error_from_response``. Reads are retried (429, 5xx, transport) with
backoff; an order request is retried only on 429 (OANDA did nothing), and a
lost answer to it raises ``OrderStatusUnknown``: query by client id, never resend.

Units are whole numbers of the instrument's ``tradeUnitsPrecision``; prices
are sent with exactly the instrument's ``displayPrecision`` and refused
locally (``InvalidOrder``) when they are not on that grid.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

from genesis.errors import InvalidOrder, RateLimited, VenueError, VenueUnavailable
from genesis.exchange.oanda.errors import error_from_response, unknown_outcome

__all__ = ["OandaClient", "OandaInstrument", "Price", "RequestLimiter", "parse_price"]

_READ_RETRIES = 3


@dataclass(frozen=True, slots=True)
class OandaInstrument:
    """An instrument's terms from ``/instruments``: pip location and precisions."""

    name: str
    pip_location: int
    display_precision: int
    trade_units_precision: int
    minimum_trade_size: Decimal
    maximum_order_units: Decimal
    margin_rate: Decimal

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.display_precision)

    @property
    def pip(self) -> Decimal:
        return Decimal(1).scaleb(self.pip_location)

    def price_text(self, price: Decimal, what: str = "price") -> str:
        """``price`` as sent: refused unless positive and on the display-precision grid."""
        if not price.is_finite() or price <= 0 or price != price.quantize(self.tick):
            raise InvalidOrder(
                f"{self.name} {what} {price}: must be positive with at most "
                f"{self.display_precision} decimals (displayPrecision)"
            )
        return f"{price:.{self.display_precision}f}"

    def units_text(self, units: Decimal) -> str:
        step = Decimal(1).scaleb(-self.trade_units_precision)
        if not units.is_finite() or units == 0 or units != units.quantize(step):
            raise InvalidOrder(
                f"{self.name} units {units}: must be non-zero multiples of {step} "
                "(tradeUnitsPrecision)"
            )
        if abs(units) > self.maximum_order_units:
            raise InvalidOrder(f"{self.name} units {units} exceed {self.maximum_order_units}")
        return str(units.quantize(step))

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OandaInstrument:
        return cls(
            name=str(obj["name"]),
            pip_location=int(obj["pipLocation"]),
            display_precision=int(obj["displayPrecision"]),
            trade_units_precision=int(obj["tradeUnitsPrecision"]),
            minimum_trade_size=Decimal(str(obj.get("minimumTradeSize", "1"))),
            maximum_order_units=Decimal(str(obj.get("maximumOrderUnits", "100000000"))),
            margin_rate=Decimal(str(obj["marginRate"])),
        )


@dataclass(frozen=True, slots=True)
class Price:
    """A top-of-book price line (REST ``prices`` item or a stream ``PRICE``)."""

    instrument: str
    time: str
    bid: Decimal
    ask: Decimal
    tradeable: bool
    bid_size: Decimal = Decimal(0)  # the best level's liquidity (units), 0 when not sent
    ask_size: Decimal = Decimal(0)


def parse_price(obj: dict[str, Any]) -> Price:
    """A ``ClientPrice`` object; raises ``ValueError`` naming what is wrong."""
    try:
        bid = Decimal(str(obj["bids"][0]["price"]))
        ask = Decimal(str(obj["asks"][0]["price"]))
        instrument, stamp = str(obj["instrument"]), str(obj["time"])
    except (KeyError, IndexError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"malformed PRICE {str(obj)[:120]!r}: {exc!r}") from None
    if not (bid.is_finite() and ask.is_finite() and 0 < bid <= ask):
        raise ValueError(f"PRICE {instrument}: bid {bid} / ask {ask} are not a valid quote")
    tradeable = bool(obj.get("tradeable", True))
    return Price(
        instrument, stamp, bid, ask, tradeable, _size(obj["bids"][0]), _size(obj["asks"][0])
    )


def _size(level: Any) -> Decimal:
    """A price level's ``liquidity``: a non-negative number, else 0."""
    try:
        size = Decimal(str(level.get("liquidity", 0))) if isinstance(level, dict) else Decimal(0)
    except InvalidOperation:
        return Decimal(0)
    return size if size.is_finite() and size >= 0 else Decimal(0)


class RequestLimiter:
    """A token bucket: at most ``rate`` requests per second, bursts up to ``rate``."""

    def __init__(self, rate: float = 100.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, was {rate}")
        self.rate = rate
        self._tokens = rate
        self._stamp = time.monotonic()
        self.waited = 0  # requests that had to wait for a token

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            self.waited += 1
            await asyncio.sleep((1 - self._tokens) / self.rate)


class OandaClient:
    """The v20 REST API of one account; ``stream_url`` is used by ``streams.py``."""

    def __init__(
        self,
        rest_url: str,
        token: str,
        account_id: str = "",
        *,
        stream_url: str | None = None,
        rate: float = 100.0,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.stream_url = (stream_url or rest_url).rstrip("/")
        self.account_id = account_id
        self.limiter = RequestLimiter(rate)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept-Datetime-Format": "RFC3339",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._own_session = session is None
        self.instruments: dict[str, OandaInstrument] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> OandaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- transport --------------------------------------------------------

    def _path(self, suffix: str) -> str:
        if not self.account_id:
            raise VenueError("OANDA client has no account id: call use_first_account() first")
        return f"/v3/accounts/{self.account_id}{suffix}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        order: bool = False,
    ) -> dict[str, Any]:
        """One call: JSON in and out; raises the mapped ``VenueError`` on failure."""
        short = path.split(self.account_id, 1)[-1] if self.account_id else path
        what = f"{method} {short or '/'}"
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._once(method, path, params, body, what)
            except RateLimited as exc:
                if attempt > _READ_RETRIES:
                    raise
                await asyncio.sleep(exc.retry_after_s)
            except (aiohttp.ClientError, TimeoutError, VenueUnavailable) as exc:
                if order:  # the order may have been placed: never resend blindly
                    raise unknown_outcome(what, exc) from exc
                if attempt > _READ_RETRIES:
                    if isinstance(exc, VenueUnavailable):
                        raise
                    raise VenueUnavailable(f"OANDA {what}: {exc!r}") from exc
                await asyncio.sleep(0.05 * 2**attempt)

    async def _once(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        what: str,
    ) -> dict[str, Any]:
        await self.limiter.acquire()
        data = json.dumps(body) if body is not None else None
        async with self.session.request(
            method, self.rest_url + path, params=params, data=data, headers=self._headers
        ) as resp:
            raw = await resp.read()
            try:
                payload: Any = json.loads(raw) if raw else {}
            except ValueError:
                payload = raw[:200].decode("utf-8", "replace")
            if resp.status >= 300:
                raise error_from_response(
                    resp.status, payload, what, resp.headers.get("Retry-After")
                )
            if not isinstance(payload, dict):
                raise VenueUnavailable(f"OANDA {what}: HTTP {resp.status} with a non-JSON body")
            return payload

    # --- accounts and market ---------------------------------------------

    async def accounts(self) -> list[str]:
        body = await self.request("GET", "/v3/accounts")
        return [str(a["id"]) for a in body.get("accounts", [])]

    async def use_first_account(self) -> str:
        """Take the token's first account (the usual single-account setup)."""
        ids = await self.accounts()
        if not ids:
            raise VenueError("OANDA: the token has no account")
        self.account_id = ids[0]
        return self.account_id

    async def account(self) -> dict[str, Any]:
        return dict((await self.request("GET", self._path("")))["account"])

    async def summary(self) -> dict[str, Any]:
        return dict((await self.request("GET", self._path("/summary")))["account"])

    async def load_instruments(self) -> dict[str, OandaInstrument]:
        body = await self.request("GET", self._path("/instruments"))
        self.instruments = {
            i.name: i for i in (OandaInstrument.from_json(o) for o in body["instruments"])
        }
        return self.instruments

    def instrument(self, name: str) -> OandaInstrument:
        try:
            return self.instruments[name]
        except KeyError:
            raise InvalidOrder(
                f"OANDA instrument {name!r} unknown: load_instruments() first"
            ) from None

    async def pricing(self, instruments: list[str]) -> list[Price]:
        params = {"instruments": ",".join(instruments)}
        body = await self.request("GET", self._path("/pricing"), params=params)
        return [parse_price(p) for p in body.get("prices", [])]

    async def transactions_since(self, last_id: str) -> list[dict[str, Any]]:
        body = await self.request(
            "GET", self._path("/transactions/sinceid"), params={"id": last_id}
        )
        return list(body.get("transactions", []))

    # --- orders, trades, positions ----------------------------------------

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /orders with a built body (``orders.order_request``); the raw answer."""
        return await self.request("POST", self._path("/orders"), body=body, order=True)

    async def replace_order(self, spec: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /orders/{spec}: cancel the pending order and create ``body``'s order in its
        place, atomically; the raw answer (``orderCancelTransaction``,
        ``orderCreateTransaction`` and what the new order did at once). A lost answer is
        ``OrderStatusUnknown``: query the replacement's client id, never resend."""
        return await self.request("PUT", self._path(f"/orders/{spec}"), body=body, order=True)

    async def cancel_order(self, spec: str) -> dict[str, Any]:
        """Cancel a pending order by id or ``@clientID``."""
        return await self.request("PUT", self._path(f"/orders/{spec}/cancel"), order=True)

    async def order(self, spec: str) -> dict[str, Any]:
        return dict((await self.request("GET", self._path(f"/orders/{spec}")))["order"])

    async def pending_orders(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", self._path("/pendingOrders")))["orders"])

    async def trades(self, state: str = "OPEN") -> list[dict[str, Any]]:
        body = await self.request("GET", self._path("/trades"), params={"state": state})
        return list(body["trades"])

    async def trade(self, spec: str) -> dict[str, Any]:
        return dict((await self.request("GET", self._path(f"/trades/{spec}")))["trade"])

    async def close_trade(self, spec: str, units: Decimal | None = None) -> dict[str, Any]:
        """Close all of a trade, or ``units`` of it (a partial close)."""
        body = {"units": "ALL" if units is None else str(units)}
        return await self.request("PUT", self._path(f"/trades/{spec}/close"), body=body, order=True)

    async def positions(self) -> list[dict[str, Any]]:
        return list((await self.request("GET", self._path("/positions")))["positions"])

    async def close_position(
        self, instrument: str, long_units: str | None = None, short_units: str | None = None
    ) -> dict[str, Any]:
        """Close the long and/or short side: "ALL" or a number of units each."""
        if long_units is None and short_units is None:
            raise InvalidOrder("OANDA position close: give long_units and/or short_units")
        body = {"longUnits": long_units or "NONE", "shortUnits": short_units or "NONE"}
        path = self._path(f"/positions/{instrument}/close")
        return await self.request("PUT", path, body=body, order=True)
