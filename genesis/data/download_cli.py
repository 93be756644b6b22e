"""``python -m genesis download``: historical bars from a venue into CSV or Parquet files.

``--venue binance`` uses the native client; any other name is a ccxt exchange id
(``ccxt:binance`` for ccxt's own Binance). One JSON line per symbol on stdout (file,
bars added, first and last bar, gaps the venue left, and the ``--data`` argument
the backtest takes). Bad input, an unknown symbol, or a network failure after the
retries: one line on stderr, exit 2, every finished page kept (rerun to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from genesis.data.barfile import INTERVAL_MS
from genesis.data.download import (
    BINANCE_URL,
    BarSource,
    BinanceKlines,
    CcxtOhlcv,
    DownloadPlan,
    SymbolResult,
    download,
    parse_utc,
)
from genesis.data.sources import KNOWN_VENUES
from genesis.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``download``."""
    p = sub.add_parser(
        "download",
        help="download historical bars (klines / OHLCV) to CSV or Parquet for backtests",
        description="Download closed bars of each symbol into OUT/VENUE-SYMBOL-INTERVAL.FORMAT;"
        " a rerun continues after the last bar in the file.",
    )
    p.add_argument(
        "--venue", default="binance",
        help="binance (native client) or a ccxt exchange id (okx, bybit, ccxt:binance, ...)",
    )  # fmt: skip
    p.add_argument("--symbols", required=True, help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    p.add_argument("--interval", default="1m", help=f"one of {', '.join(INTERVAL_MS)}")
    p.add_argument("--start", required=True, help="ISO date/time, UTC unless an offset is given")
    p.add_argument("--end", default=None, help="exclusive; default: now (the last closed bar)")
    p.add_argument("--out", type=Path, default=Path("data"), help="output directory")
    p.add_argument("--format", dest="file_format", default="csv", choices=("csv", "parquet"),
                   help="parquet needs pyarrow (pip install 'genesis[research]')")  # fmt: skip
    p.add_argument("--rest-url", default=BINANCE_URL, help="binance: the REST base URL")
    p.add_argument(
        "--ccxt-config", default=None, metavar="JSON",
        help='ccxt: {"api": {...}, "options": {...}} merged into the exchange (e.g. a testnet)',
    )  # fmt: skip
    p.add_argument("--attempts", type=int, default=5, help="tries of one page on network errors")


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Run the download; one JSON line per symbol on ``out`` (bad input raises GenesisError)."""
    out = out or sys.stdout
    now_ms = time.time_ns() // 1_000_000
    plan = DownloadPlan(
        symbols=_symbols(args.symbols),
        interval=args.interval,
        start_ms=parse_utc(args.start, "--start"),
        end_ms=parse_utc(args.end, "--end") if args.end else now_ms,
        out_dir=args.out,
        file_format=args.file_format,
        attempts=args.attempts,
    )
    if plan.file_format == "parquet":
        from genesis.data.parquet import _pyarrow

        _pyarrow()
    results = asyncio.run(_download(args, plan, out))
    for result in results:
        out.write(json.dumps({**result.as_dict(), "data": _data_arg(result)}) + "\n")
    return 0


async def _download(args: argparse.Namespace, plan: DownloadPlan, out: IO[str]) -> list[Any]:
    source = _source(args.venue, args.rest_url, args.ccxt_config)
    try:
        return await download(source, plan)
    finally:
        await source.close()


def _source(venue: str, rest_url: str, ccxt_config: str | None) -> BarSource:
    name = venue.strip().lower()
    if name == "binance":
        from genesis.exchange.binance import BinanceRest

        return BinanceKlines(BinanceRest(rest_url, wait_rate_limits=True))
    return CcxtOhlcv(_ccxt_session(name.removeprefix("ccxt:"), ccxt_config))


def _ccxt_session(exchange_id: str, raw: str | None) -> Any:
    import ccxt.async_support as ccxt_async

    from genesis.exchange.ccxt.session import CcxtSession

    if exchange_id not in ccxt_async.exchanges:
        raise ConfigError(
            f"--venue {exchange_id!r}: not binance and not a ccxt exchange id "
            "(e.g. okx, bybit, kraken, coinbase)"
        )
    config = _ccxt_config(raw)
    options = config.get("options") or {}
    exchange = getattr(ccxt_async, exchange_id)({"enableRateLimit": True, "options": options})
    api = dict(exchange.urls.get("api") or {})
    for key, value in (config.get("api") or {}).items():
        api[key] = {**api.get(key, {}), **value} if isinstance(value, dict) else value
    exchange.urls["api"] = api
    return CcxtSession(exchange, exchange_id)


def _ccxt_config(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--ccxt-config: not JSON ({exc})") from None
    if not isinstance(config, dict) or set(config) - {"api", "options"}:
        raise ConfigError('--ccxt-config: expected {"api": {...}, "options": {...}}')
    return config


def _symbols(text: str) -> tuple[str, ...]:
    symbols = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not symbols:
        raise ConfigError(f"--symbols {text!r}: expected a comma-separated list like BTCUSDT")
    return symbols


def _data_arg(result: SymbolResult) -> str | None:
    """The ``--data`` value the backtest takes for this file (bare when the name tells all);
    None when no bar was ever written (no file)."""
    if not result.path.exists():
        return None
    venue = result.path.name.split("-", 1)[0]
    if venue in KNOWN_VENUES and result.symbol.isalnum():
        return str(result.path)
    symbol = "".join(c for c in result.symbol if c.isalnum()).upper()
    return f"{venue}:{symbol}={result.path}"
