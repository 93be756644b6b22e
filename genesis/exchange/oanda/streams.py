"""The v20 streams: prices and transactions over chunked HTTP, one JSON object a line.

OANDA sends a ``HEARTBEAT`` line every 5 seconds on both streams. A stream
that stays silent for ``stall_s`` (default 3 heartbeats), or that breaks, is
reconnected with exponential backoff (``backoff_s`` doubling to ``max_backoff_s``);
a malformed line is counted and skipped, never raised. Authentication
failures (401/403) end the stream with ``OandaAuthError``: retrying cannot fix them.

``TransactionStream`` remembers the last transaction id it yielded; on the
first line of a new connection it backfills ``transactions/sinceid`` so no
transaction is lost, and it never yields one id twice.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import structlog

from genesis.exchange.oanda.errors import OandaAuthError, error_from_response
from genesis.exchange.oanda.rest import OandaClient, Price, parse_price

__all__ = ["PriceStream", "TransactionStream"]

log = structlog.get_logger(__name__)


class _LineStream:
    """Reconnecting JSON-lines reader of one stream endpoint."""

    def __init__(
        self,
        client: OandaClient,
        suffix: str,
        params: dict[str, str],
        *,
        stall_s: float = 15.0,
        backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.client = client
        self._suffix = suffix
        self._params = params
        self.stall_s = stall_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.stats: Counter[str] = Counter()  # connects, reconnects, heartbeats, malformed
        self.connected = False  # a connection is up and its lines are being read
        self._closed = False

    def close(self) -> None:
        """Stop after the current line (the iterator then ends)."""
        self._closed = True

    async def objects(self) -> AsyncIterator[dict[str, Any]]:
        """Every JSON object of the stream, across reconnects, heartbeats included."""
        delay = self.backoff_s
        while not self._closed:
            try:
                async for obj in self._connection():
                    delay = self.backoff_s  # a good line resets the backoff
                    yield obj
            except OandaAuthError:
                raise
            except (aiohttp.ClientError, TimeoutError, ConnectionError, OSError) as exc:
                self.stats["errors"] += 1
                log.warning("oanda_stream_broken", stream=self._suffix, error=repr(exc))
            except Exception as exc:  # a VenueError mapped from the connect answer
                self.stats["errors"] += 1
                log.warning("oanda_stream_refused", stream=self._suffix, error=str(exc))
            if self._closed:
                return
            self.stats["reconnects"] += 1
            await asyncio.sleep(delay)
            delay = min(self.max_backoff_s, delay * 2)

    async def _connection(self) -> AsyncIterator[dict[str, Any]]:
        client = self.client
        url = f"{client.stream_url}/v3/accounts/{client.account_id}{self._suffix}"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with client.session.get(
            url, params=self._params, headers=client.headers, timeout=timeout
        ) as resp:
            if resp.status != 200:
                raw = await resp.read()
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw[:200].decode("utf-8", "replace")
                raise error_from_response(resp.status, body, f"GET {self._suffix}")
            self.stats["connects"] += 1
            self.connected = True
            try:
                while not self._closed:
                    line = await asyncio.wait_for(resp.content.readline(), self.stall_s)
                    if not line:
                        raise ConnectionResetError("the stream ended")
                    obj = self._parse(line)
                    if obj is not None:
                        yield obj
            finally:
                self.connected = False

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        if not line.strip():
            return None
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("type", ""), str):
            self.stats["malformed"] += 1
            log.warning("oanda_stream_malformed", stream=self._suffix, line=line[:120])
            return None
        if obj.get("type") == "HEARTBEAT":
            self.stats["heartbeats"] += 1
        return obj


class PriceStream(_LineStream):
    """``/pricing/stream`` of ``instruments``: yields ``Price``s (heartbeats are counted)."""

    def __init__(self, client: OandaClient, instruments: list[str], **kw: Any) -> None:
        params = {"instruments": ",".join(instruments), "snapshot": "true"}
        super().__init__(client, "/pricing/stream", params, **kw)

    async def prices(self) -> AsyncIterator[Price]:
        async for obj in self.objects():
            if obj.get("type", "PRICE") != "PRICE":
                continue
            try:
                yield parse_price(obj)
            except ValueError as exc:
                self.stats["malformed"] += 1
                log.warning("oanda_price_malformed", error=str(exc))


class TransactionStream(_LineStream):
    """``/transactions/stream``: yields each transaction once, in id order, across breaks."""

    def __init__(self, client: OandaClient, last_id: str = "", **kw: Any) -> None:
        super().__init__(client, "/transactions/stream", {}, **kw)
        self.last_id = last_id
        self._connects_seen = 0

    async def _backfill(self) -> list[dict[str, Any]]:
        """What happened since ``last_id``: asked once the new connection is up, so nothing
        falls between the backfill and the stream (an overlap is dropped by id)."""
        try:
            backlog = await self.client.transactions_since(self.last_id)
        except Exception as exc:  # the stream goes on; the next reconnect asks again
            log.warning("oanda_backfill_failed", error=str(exc))
            return []
        self.stats["backfilled"] += len(backlog)
        return backlog

    def _fresh(self, obj: dict[str, Any]) -> bool:
        tx_id = str(obj.get("id", ""))
        if not tx_id.isdigit():
            self.stats["malformed"] += 1
            return False
        if self.last_id and int(tx_id) <= int(self.last_id):
            self.stats["duplicates"] += 1
            return False
        self.last_id = tx_id
        return True

    async def transactions(self) -> AsyncIterator[dict[str, Any]]:
        async for obj in self.objects():
            if self.stats["connects"] != self._connects_seen:  # the first line of a connection
                reconnected = self._connects_seen > 0
                self._connects_seen = self.stats["connects"]
                for tx in await self._backfill() if reconnected and self.last_id else []:
                    if self._fresh(tx):
                        yield tx
            if obj.get("type") == "HEARTBEAT":
                if not self.last_id:
                    self.last_id = str(obj.get("lastTransactionID", ""))
                continue
            if self._fresh(obj):
                yield obj
