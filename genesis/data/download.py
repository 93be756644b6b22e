"""Historical bars from a venue into bar files the backtest reads (``python -m genesis download``).

Two sources behind one small interface (``BarSource``):

* ``binance``: the native client (``exchange.binance.BinanceRest``), ``GET
  /api/v3/klines``, 1,000 klines a page, weight 2 each; the client accounts the
  weight from the answers' headers and, with ``wait_rate_limits``, waits out a 429
  or a weight running out instead of failing;
* any ccxt exchange id: ``fetch_ohlcv`` through ``exchange.ccxt.CcxtSession`` (its
  error seam), paged by ``since``.

Theory of operation. For each symbol the bars with an open time in ``[start, end)``
whose interval has ended (open + interval <= now: the venue's still-forming
candle is never written) are fetched page by page from a cursor, starting after
the last bar already in the output file when there is one (``barfile.BarSink``),
so a rerun continues where the last stopped, with no duplicate and no hole. Each
page is appended (fsynced) before the next request. A page's bars must open at or
after the cursor and increase strictly; the cursor moves to the last bar's open
plus one interval. A minute in which nothing traded is a bar the venue does not
send (Binance omits it); it stays a gap in the file, as the venue gave it, and is
counted in the summary (``gaps``), never filled in.

A transient failure (``VenueUnavailable``: timeouts, transport errors, 5XX) is
retried with the project's backoff; when the retries run out the error says how
many bars were kept, and a rerun resumes from them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from genesis.data.barfile import INTERVAL_MS, BarRow, BarSink, bar_row, format_open
from genesis.errors import ConfigError, DataError, OrderRejectedByVenue, VenueUnavailable
from genesis.retry import Backoff, BackoffPolicy, retry

__all__ = [
    "BINANCE_URL",
    "BarSource",
    "BinanceKlines",
    "CcxtOhlcv",
    "DownloadPlan",
    "SymbolResult",
    "download",
    "parse_utc",
]

BINANCE_URL: Final = "https://api.binance.com"
PAGE_LIMIT: Final = 1000
_KLINES_WEIGHT: Final = 2
_RETRY: Final = BackoffPolicy(initial_s=1.0, cap_s=30.0)
_UNKNOWN_SYMBOL: Final = -1121
_BAD_INTERVAL: Final = -1120


class BarSource(Protocol):
    """A venue's bar history: ``name`` goes into file names; pages come oldest first."""

    name: str
    full_pages: bool  # a page shorter than PAGE_LIMIT means nothing more is there

    async def resolve(self, symbol: str, interval: str) -> str:
        """The venue's name of ``symbol``; ConfigError for an unknown symbol or interval."""
        ...

    async def page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Any]:
        """Up to PAGE_LIMIT rows ``[open ms, open, high, low, close, volume, ...]`` opening
        at or after ``start_ms`` (and before ``end_ms``, where the venue can filter)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadPlan:
    """What to fetch and where to.

    Attributes:
        symbols: as the user wrote them (``BTCUSDT``; for ccxt also ``BTC/USDT``).
        interval: ``1m`` .. ``1d`` (:data:`~genesis.data.barfile.INTERVAL_MS`).
        start_ms, end_ms: bars opening in ``[start_ms, end_ms)``, ms since the epoch.
        out_dir: one file per symbol and interval, ``VENUE-SYMBOL-INTERVAL.FORMAT``.
        file_format: ``csv`` or ``parquet``.
        attempts: tries of one page before a transient failure is final.

    Raises:
        ConfigError: an unknown interval or format, start not before end, attempts < 1.
    """

    symbols: tuple[str, ...]
    interval: str
    start_ms: int
    end_ms: int
    out_dir: Path
    file_format: str = "csv"
    attempts: int = 5

    def __post_init__(self) -> None:
        if self.interval not in INTERVAL_MS:
            raise ConfigError(
                f"--interval {self.interval!r} is not supported, expected one of "
                f"{', '.join(INTERVAL_MS)}"
            )
        if self.file_format not in ("csv", "parquet"):
            raise ConfigError(f"--format {self.file_format!r}, expected csv or parquet")
        if self.start_ms >= self.end_ms:
            raise ConfigError(
                f"--start {format_open(self.start_ms)} is not before --end "
                f"{format_open(self.end_ms)}"
            )
        if self.attempts < 1:
            raise ConfigError(f"attempts must be >= 1, was {self.attempts}")

    @property
    def interval_ms(self) -> int:
        return INTERVAL_MS[self.interval]


@dataclass(slots=True, kw_only=True)
class SymbolResult:
    """One symbol's download: its file, the bars added this run, the range and gaps."""

    symbol: str
    path: Path
    added: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    gaps: int = 0  # bars missing between consecutive bars added (the venue sent none)
    resumed_after_ms: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary line's fields (times as ``format_open`` text, None when absent)."""
        return {
            "symbol": self.symbol, "file": str(self.path), "added": self.added,
            "first": _stamp(self.first_ms), "last": _stamp(self.last_ms), "gaps": self.gaps,
            "resumed_after": _stamp(self.resumed_after_ms),
        }  # fmt: skip


def _stamp(ms: int | None) -> str | None:
    return None if ms is None else format_open(ms)


def parse_utc(text: str, flag: str) -> int:
    """``YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]`` as ms since the epoch; no offset means UTC.

    Raises:
        ConfigError: naming ``flag`` and the text.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r} is not a date, expected ISO 8601 like 2022-01-01 or "
            "2022-01-01T12:00 (UTC unless an offset is given)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def file_word(symbol: str) -> str:
    """The symbol as a file name word (lower case letters, digits): ``BTC/USDT`` -> ``btcusdt``."""
    return re.sub(r"[^a-z0-9]", "", symbol.lower())


# --- the download loop -----------------------------------------------------------------


async def download(
    source: BarSource,
    plan: DownloadPlan,
    *,
    now_ms: Callable[[], int] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_page: Callable[[SymbolResult], None] | None = None,
) -> list[SymbolResult]:
    """Fetch every symbol of ``plan`` into its file (see the module docstring).

    Returns:
        One result per symbol, in ``plan.symbols`` order.

    Raises:
        ConfigError: an unknown symbol or interval, an output file of another format.
        VenueError: a page failed for good (``VenueUnavailable`` after ``attempts``);
            the bars of the pages before it are in the file.
        DataError: the venue sent a malformed or out-of-order row.
    """
    clock = now_ms or (lambda: time.time_ns() // 1_000_000)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    resolved = [await source.resolve(symbol, plan.interval) for symbol in plan.symbols]
    results = []
    for venue_symbol in resolved:
        name = f"{source.name}-{file_word(venue_symbol)}-{plan.interval}.{plan.file_format}"
        sink = BarSink(plan.out_dir / name)
        result = SymbolResult(symbol=venue_symbol, path=sink.path)
        await _fetch_symbol(source, plan, sink, result, clock(), sleep, on_page)
        sink.finish()
        results.append(result)
    return results


async def _fetch_symbol(
    source: BarSource, plan: DownloadPlan, sink: BarSink, result: SymbolResult, now: int,
    sleep: Callable[[float], Awaitable[None]], on_page: Callable[[SymbolResult], None] | None,
) -> None:  # fmt: skip
    step = plan.interval_ms
    result.resumed_after_ms = sink.last_open_ms
    cursor = (
        plan.start_ms if sink.last_open_ms is None else max(plan.start_ms, sink.last_open_ms + step)
    )
    stop = min(plan.end_ms, now - step + 1)  # bars opening before this have closed
    while cursor < stop:
        page = await _page_with_retries(source, plan, result, cursor, stop, sleep)
        rows = _rows_in(page, cursor, stop, step, result.symbol)
        if not rows:
            return
        _count(result, rows, step)
        sink.append(rows)
        cursor = rows[-1][0] + step
        if on_page is not None:
            on_page(result)
        if source.full_pages and len(page) < PAGE_LIMIT:
            return


async def _page_with_retries(
    source: BarSource, plan: DownloadPlan, result: SymbolResult, cursor: int, stop: int,
    sleep: Callable[[float], Awaitable[None]],
) -> list[Any]:  # fmt: skip
    async def attempt() -> list[Any]:
        return await source.page(result.symbol, plan.interval, cursor, stop)

    try:
        return await retry(attempt, retry_on=lambda e: isinstance(e, VenueUnavailable),
                           backoff=Backoff(_RETRY), max_attempts=plan.attempts,
                           sleep=sleep)  # fmt: skip
    except VenueUnavailable as exc:
        kept = f"{result.added} new bar(s) kept in {result.path}"
        raise VenueUnavailable(
            f"{source.name} {result.symbol}: bars from {format_open(cursor)} failed after "
            f"{plan.attempts} attempt(s) ({exc}); {kept}; run again to resume"
        ) from exc


def _rows_in(page: Sequence[Any], cursor: int, stop: int, step: int, symbol: str) -> list[BarRow]:
    rows: list[BarRow] = []
    previous = cursor - step
    for raw in page:
        if not isinstance(raw, Sequence) or len(raw) < 6 or type(raw[0]) is not int:
            raise DataError(f"{symbol}: the venue sent a malformed bar {raw!r}")
        open_ms = raw[0]
        if open_ms < cursor or open_ms >= stop:
            continue  # before the cursor (a venue ignoring since) or not closed / past end
        if open_ms <= previous:
            raise DataError(
                f"{symbol}: bar at {format_open(open_ms)} is not after the previous "
                f"{format_open(previous)}, expected increasing open times"
            )
        rows.append(bar_row(open_ms, raw[1:6], f"{symbol} bar at {format_open(open_ms)}"))
        previous = open_ms
    return rows


def _count(result: SymbolResult, rows: Sequence[BarRow], step: int) -> None:
    previous = result.last_ms
    for row in rows:
        if previous is not None:
            result.gaps += (row[0] - previous) // step - 1
        previous = row[0]
    result.first_ms = result.first_ms if result.first_ms is not None else rows[0][0]
    result.last_ms = rows[-1][0]
    result.added += len(rows)


# --- sources ---------------------------------------------------------------------------


class BinanceKlines:
    """Binance spot klines through the native client (``GET /api/v3/klines``).

    Args:
        rest: a ``BinanceRest`` (public data: no credentials needed); closed by ``close``.
    """

    name = "binance"
    full_pages = True

    def __init__(self, rest: Any) -> None:
        self.rest = rest

    async def resolve(self, symbol: str, interval: str) -> str:
        if not symbol.isalnum():
            raise ConfigError(f"--symbols {symbol!r}: expected a Binance symbol like BTCUSDT")
        return symbol.upper()

    async def page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Any]:
        params = [("symbol", symbol), ("interval", interval), ("startTime", str(start_ms)),
                  ("endTime", str(end_ms - 1)), ("limit", str(PAGE_LIMIT))]  # fmt: skip
        try:
            page = await self.rest.request("GET", "/api/v3/klines", params, weight=_KLINES_WEIGHT)
        except OrderRejectedByVenue as exc:
            raise _binance_refusal(exc, symbol, interval) from exc
        if not isinstance(page, list):
            raise DataError(f"binance {symbol}: klines answer is not a list: {page!r:.200}")
        return page

    async def close(self) -> None:
        await self.rest.close()


def _binance_refusal(exc: OrderRejectedByVenue, symbol: str, interval: str) -> Exception:
    if exc.code == _UNKNOWN_SYMBOL:
        return ConfigError(f"--symbols {symbol}: binance does not list this symbol ({exc})")
    if exc.code == _BAD_INTERVAL:
        return ConfigError(f"--interval {interval}: binance refused it for {symbol} ({exc})")
    return exc


class CcxtOhlcv:
    """Any ccxt exchange's ``fetch_ohlcv``, through the guarded ``CcxtSession``.

    Args:
        session: a ``genesis.exchange.ccxt.session.CcxtSession``; closed by ``close``.
    """

    full_pages = False  # venues cap pages below PAGE_LIMIT (OKX 300, ...): read until empty

    def __init__(self, session: Any) -> None:
        self.session = session
        self.name = str(session.exchange.id)

    async def resolve(self, symbol: str, interval: str) -> str:
        await self.session.call("load_markets")
        exchange = self.session.exchange
        timeframes: Mapping[str, Any] = getattr(exchange, "timeframes", None) or {}
        if timeframes and interval not in timeframes:
            raise ConfigError(f"--interval {interval}: {self.name} offers {', '.join(timeframes)}")
        if symbol in exchange.markets:
            return symbol
        by_id = exchange.markets_by_id or {}
        found = by_id.get(symbol) or by_id.get(symbol.upper()) or []
        spot = [m for m in found if m.get("type") == "spot"] or list(found)
        if not spot:
            raise ConfigError(
                f"--symbols {symbol}: {self.name} lists no such market (a unified symbol like "
                "BTC/USDT or the venue's id like BTCUSDT)"
            )
        return str(spot[0]["symbol"])

    async def page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Any]:
        rows = await self.session.call("fetch_ohlcv", symbol, interval, start_ms, PAGE_LIMIT)
        return [[int(r[0]), *r[1:6]] for r in rows or ()]

    async def close(self) -> None:
        await self.session.close()
