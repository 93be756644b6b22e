"""``python -m genesis [run] [--tier ...]``: the daemon's command line (paper mode)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.instruments import load_exchange_info
from genesis.engine.daemon import DaemonConfig, run_paper
from genesis.engine.market_data import LiveMarket
from genesis.errors import ConfigError
from genesis.logs import configure
from genesis.risk.limits import Tier, tier_for_equity
from genesis.settings import load_settings

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


def run(args: argparse.Namespace) -> int:
    """Start the daemon; return its exit code."""
    settings = load_settings(tier=args.tier, log_level=args.log_level)
    configure(level=settings.log_level, stream=sys.stdout, secrets=settings.secret_values())
    if args.cash <= 0 or not args.cash.is_finite():
        raise ConfigError(f"--cash must be a positive number, was {args.cash}")
    tier = settings.tier or tier_for_equity(args.cash)
    directory = args.strategies or settings.strategies_dir
    if not directory.is_dir():
        raise ConfigError(f"strategy directory {directory} does not exist")
    configs = tuple(c for c in load_strategy_configs(directory) if c.enabled and c.tier is tier)
    if not configs:
        raise ConfigError(f"no enabled strategy for tier {tier.value} in {directory}")
    mode = "recording" if args.data is not None else args.market_data or settings.market_data
    live = (
        LiveMarket(
            rest_url=settings.market_rest_url,
            ws_url=settings.market_ws_url,
            kinds=tuple(k.strip() for k in args.live_streams.split(",") if k.strip()),
        )
        if mode == "live"
        else None
    )
    config = DaemonConfig(
        tier=tier, strategies=configs, instruments=load_exchange_info(resources.EXCHANGE_INFO),
        data=args.data or resources.BTCUSDT_1M_BARS, symbol=args.symbol, live_market=live,
        cash=args.cash, speed=args.speed,
        max_events=args.max_bars, strategies_dir=directory, data_dir=settings.data_dir,
        database_url=settings.database_url.get_secret_value() if settings.database_url else None,
        on_shutdown=settings.on_shutdown,
        shutdown_timeout_s=settings.shutdown_timeout_s, max_daily_loss_pct=args.max_daily_loss_pct,
    )  # fmt: skip
    return run_paper(config)
