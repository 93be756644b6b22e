"""``python -m genesis [run] [--tier ...] [--live]``: the daemon's command line.

Paper trading is the default. Live trading needs both the explicit ``--live``
flag and both keys (``GENESIS_BINANCE_API_KEY``, ``GENESIS_BINANCE_API_SECRET``);
without either it refuses with one line. Keys present without ``--live`` are
never handed to any venue or client: paper mode says so once and ignores them.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.instruments import load_exchange_info
from genesis.engine.daemon import DaemonConfig, run_paper
from genesis.engine.market_data import LiveMarket
from genesis.errors import ConfigError
from genesis.logs import configure
from genesis.risk.limits import Tier, tier_for_equity
from genesis.settings import Settings, load_settings

if TYPE_CHECKING:
    from genesis.exchange.binance.signing import Credentials

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``run`` sub-command (also what a bare ``python -m genesis`` runs)."""
    p = sub.add_parser("run", help="the trading daemon (paper mode on the bundled recording)")
    p.add_argument(
        "--tier", choices=[t.value for t in Tier], default=None, help="default: from equity"
    )
    p.add_argument(
        "--cash", type=Decimal, default=Decimal(1000), help="paper account, quote currency"
    )
    p.add_argument(
        "--speed", type=float, default=100.0, help="bars per second of wall time; 0 = full speed"
    )
    p.add_argument(
        "--data", type=Path, default=None,
        help="replay this recording (bars CSV, capture JSONL, raw streams) instead of live data",
    )  # fmt: skip
    p.add_argument(
        "--market-data", choices=["live", "recording"], default=None,
        help="live public Binance streams (default; falls back to the bundled recording when"
        " unreachable) or the recording (GENESIS_MARKET_DATA)",
    )  # fmt: skip
    p.add_argument(
        "--live-streams", default="kline_1m",
        help="live streams, comma separated: kline_1m, trade, bookTicker, depth@100ms",
    )  # fmt: skip
    p.add_argument("--symbol", default="BTCUSDT")
    p.add_argument("--strategies", type=Path, default=None, help="directory of strategy YAML files")
    p.add_argument("--max-bars", type=int, default=None, help="stop after this many bars")
    p.add_argument("--log-level", default=None)
    p.add_argument(
        "--max-daily-loss-pct", type=Decimal, default=None,
        help="kill switch threshold as a fraction (default: the tier's, 0.05)",
    )  # fmt: skip
    p.add_argument(
        "--live", action="store_true",
        help="trade live on Binance (GENESIS_BINANCE_REST_URL ...) with the keys from settings;"
        " journal in genesis-live.db",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Start the daemon; return its exit code."""
    settings = load_settings(tier=args.tier, log_level=args.log_level)
    configure(level=settings.log_level, stream=sys.stdout, secrets=settings.secret_values())
    credentials = _live_credentials(args, settings)
    if args.cash <= 0 or not args.cash.is_finite():
        raise ConfigError(f"--cash must be a positive number, was {args.cash}")
    tier = settings.tier or tier_for_equity(args.cash)
    directory = args.strategies or settings.strategies_dir
    if not directory.is_dir():
        raise ConfigError(f"strategy directory {directory} does not exist")
    configs = tuple(c for c in load_strategy_configs(directory) if c.enabled and c.tier is tier)
    if not configs:
        raise ConfigError(f"no enabled strategy for tier {tier.value} in {directory}")
    kinds = tuple(k.strip() for k in args.live_streams.split(",") if k.strip())
    mode = "recording" if args.data is not None else args.market_data or settings.market_data
    if credentials is not None:  # live trading: the venue's own market streams
        live = LiveMarket(rest_url=settings.binance_rest_url, ws_url=settings.binance_ws_url,
                          kinds=kinds)  # fmt: skip
    elif mode == "live":
        live = LiveMarket(rest_url=settings.market_rest_url, ws_url=settings.market_ws_url,
                          kinds=kinds)  # fmt: skip
    else:
        live = None
    config = DaemonConfig(
        tier=tier, strategies=configs, instruments=load_exchange_info(resources.EXCHANGE_INFO),
        data=args.data or resources.BTCUSDT_1M_BARS, symbol=args.symbol, live_market=live,
        cash=args.cash, speed=args.speed,
        max_events=args.max_bars, strategies_dir=directory, data_dir=settings.data_dir,
        database_url=settings.database_url.get_secret_value() if settings.database_url else None,
        on_shutdown=settings.on_shutdown,
        shutdown_timeout_s=settings.shutdown_timeout_s, max_daily_loss_pct=args.max_daily_loss_pct,
    )  # fmt: skip
    if credentials is None:
        return run_paper(config)
    from genesis.engine.live_daemon import run_live
    from genesis.engine.live_session import LiveEndpoints

    endpoints = LiveEndpoints(
        rest_url=settings.binance_rest_url, ws_url=settings.binance_ws_url,
        ws_api_url=settings.binance_ws_api_url, credentials=credentials,
    )  # fmt: skip
    return run_live(config, endpoints)


def _live_credentials(args: argparse.Namespace, settings: Settings) -> Credentials | None:
    """The keys for live trading, or None for paper; refuse every ambiguous combination."""
    keys = {
        "GENESIS_BINANCE_API_KEY": settings.binance_api_key,
        "GENESIS_BINANCE_API_SECRET": settings.binance_api_secret,
    }
    present = {name: s.get_secret_value() for name, s in keys.items() if s is not None}
    present = {name: value for name, value in present.items() if value.strip()}
    if not args.live:
        if settings.live:
            raise ConfigError(
                "GENESIS_LIVE is set, but live trading needs the explicit --live flag"
            )
        if present:
            structlog.get_logger(__name__).warning(
                "live_keys_unused", detail="live keys present; paper mode does not use them"
            )
        return None
    missing = [name for name in keys if name not in present]
    if missing:
        raise ConfigError(
            f"--live refused: {' and '.join(missing)} not set (live trading needs both keys)"
        )
    if args.data is not None or args.market_data == "recording":
        raise ConfigError(
            "--live trades on the venue's live market data: drop --data/--market-data"
        )
    from genesis.exchange.binance.signing import Credentials

    return Credentials(present["GENESIS_BINANCE_API_KEY"], present["GENESIS_BINANCE_API_SECRET"])
