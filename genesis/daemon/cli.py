"""``python -m genesis [run] [--tier ...] [--live]``: the daemon's command line.

Paper trading is the default. Live trading needs both the explicit ``--live``
flag and both keys (``GENESIS_BINANCE_API_KEY``, ``GENESIS_BINANCE_API_SECRET``);
without either it refuses with one line. Keys present without ``--live`` are
never handed to any venue or client: paper mode says so once and ignores them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from genesis import resources
from genesis.cliargs import add_venue_fee_arg, decimal_arg
from genesis.config.loader import load_strategy_configs
from genesis.config.overlay import overlay_dir
from genesis.core.instruments import DEFAULT_VENUE, load_exchange_info, split_instrument_id
from genesis.daemon.assemble import run_paper
from genesis.daemon.daemon import DaemonConfig
from genesis.daemon.market import LiveStreams
from genesis.data.sources import (
    DataSpec,
    describe_sources,
    first_event_ns,
    instruments_for,
    parse_data_arg,
)
from genesis.errors import ConfigError
from genesis.logs import configure
from genesis.monitoring.alerts import AlertConfig, Severity
from genesis.monitoring.urls import split_urls
from genesis.risk.config import load_risk_config
from genesis.risk.limits import Tier, tier_for_equity
from genesis.settings import Settings, load_settings

if TYPE_CHECKING:
    from genesis.exchange.binance.signing import Credentials

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``run`` sub-command (also what a bare ``python -m genesis`` runs)."""
    p = sub.add_parser(
        "run",
        help="the trading daemon: paper by default (live public data, else the bundled"
        " recording), live with --live",
    )
    p.add_argument(
        "--tier", choices=[t.value for t in Tier], default=None, help="default: from equity"
    )
    p.add_argument(
        "--cash",
        type=decimal_arg("--cash", positive=True),
        default=Decimal(1000),
        help="paper account, quote currency",
    )
    p.add_argument(
        "--fee-bps",
        type=decimal_arg("--fee-bps"),
        default=Decimal(10),
        help="paper: the simulated venues' fee in bps of the notional, maker and taker"
        " (default 10, Binance spot's base rate)",
    )
    add_venue_fee_arg(p, "paper on several venues")
    p.add_argument(
        "--speed",
        type=float,
        default=100.0,
        help="recorded events per second of wall time; 0 = full speed",
    )
    p.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="[[VENUE:]SYMBOL=]FILE",
        help="replay this recording (bars CSV, capture JSONL, raw streams) instead of live data;"
        " repeat for several symbols or venues, interleaved by time",
    )
    p.add_argument(
        "--market-data",
        choices=["live", "recording"],
        default=None,
        help="live public Binance streams (default; falls back to the bundled recording when"
        " unreachable) or the recording (GENESIS_MARKET_DATA)",
    )
    p.add_argument(
        "--live-streams",
        default="kline_1m",
        help="live streams, comma separated: kline_1m, trade, bookTicker, depth@100ms",
    )
    p.add_argument(
        "--symbol",
        default=None,
        help="symbol of a bars CSV given without SYMBOL= (default BTCUSDT for the bundled bars)",
    )
    p.add_argument(
        "--status-interval-s",
        type=float,
        default=None,
        help="seconds between daemon_status lines (GENESIS_STATUS_INTERVAL_S, default 60; 0 = off)",
    )
    p.add_argument("--strategies", type=Path, default=None, help="directory of strategy YAML files")
    p.add_argument("--max-bars", type=int, default=None, help="stop after this many market events")
    p.add_argument(
        "--log-level", default=None, choices=("debug", "info", "warning", "error", "critical"),
        help="log level (default: GENESIS_LOG_LEVEL, else info)",
    )  # fmt: skip
    p.add_argument(
        "--max-daily-loss-pct",
        type=decimal_arg("--max-daily-loss-pct", positive=True),
        default=None,
        help="kill switch threshold as a fraction (default: the tier's, 0.05)",
    )
    p.add_argument(
        "--risk-config",
        type=Path,
        default=None,
        help="risk limits YAML, config/risk.yaml's format (default: GENESIS_RISK_CONFIG,"
        " else the built-in limits)",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="trade live: Binance natively (GENESIS_BINANCE_REST_URL ..., keys from settings),"
        " OANDA natively (oanda:GBP_USD; GENESIS_OANDA_TOKEN ...), other venues through ccxt"
        " (GENESIS_CCXT_VENUES); journal in genesis-live.db;"
        " operator commands then take --live",
    )


def alert_config(settings: Settings) -> AlertConfig:
    """The alert rules' settings; the URLs' tokens and the process secrets go with them
    (messages are scrubbed of the secrets before they leave)."""
    urls = settings.alert_urls.get_secret_value() if settings.alert_urls else ""
    return AlertConfig(
        urls=split_urls(urls),
        min_severity=Severity.parse(settings.alert_min_severity),
        interval_s=settings.alert_interval_s,
        drawdown_pct=settings.alert_drawdown_pct,
        secrets=tuple(settings.secret_values()),
    )


def run(args: argparse.Namespace) -> int:
    """Start the daemon; return its exit code."""
    settings = load_settings(tier=args.tier, log_level=args.log_level, risk_config=args.risk_config)
    configure(level=settings.log_level, stream=sys.stdout, secrets=settings.secret_values())
    if args.cash <= 0 or not args.cash.is_finite():
        raise ConfigError(f"--cash must be a positive number, was {args.cash}")
    tier = settings.tier or tier_for_equity(args.cash)
    risk = load_risk_config(settings.risk_config)  # a bad file refuses the start
    directory = args.strategies or settings.strategies_dir
    if not directory.is_dir():
        raise ConfigError(f"strategy directory {directory} does not exist")
    overlay = overlay_dir(directory, settings.env)
    loaded = load_strategy_configs(directory, overlay)
    configs = tuple(c for c in loaded if c.enabled and c.tier is tier)
    if not configs:
        raise ConfigError(f"no enabled strategy for tier {tier.value} in {directory}")
    venues = {split_instrument_id(i)[0] for c in configs for i in c.instruments}
    _check_fees(args, venues, tier)
    native = DEFAULT_VENUE in venues
    credentials = _live_credentials(args, settings) if native or not args.live else None
    kinds = tuple(k.strip() for k in args.live_streams.split(",") if k.strip())
    mode = "recording" if args.data else args.market_data or settings.market_data
    if args.live:  # live trading: the venues' own market streams
        live = LiveStreams(
            rest_url=settings.binance_rest_url, ws_url=settings.binance_ws_url, kinds=kinds
        )
    elif mode == "live":
        live = LiveStreams(
            rest_url=settings.market_rest_url, ws_url=settings.market_ws_url, kinds=kinds
        )
    else:
        live = None
    specs = _data_specs(args, configs, tier)
    table = load_exchange_info(resources.EXCHANGE_INFO)
    if not args.live:
        found = instruments_for(specs, table)
        for line in found.inferred:
            print(f"genesis: {line}", file=sys.stderr)
        table = found.table
        if live is None:
            configs = _check_covered(configs, specs, table)
    interval = args.status_interval_s
    config = DaemonConfig(
        tier=tier,
        strategies=configs,
        instruments=table,
        data=specs,
        cash=args.cash,
        fee_bps=args.fee_bps,
        venue_fee_bps=dict(args.venue_fee_bps),
        speed=args.speed,
        max_events=args.max_bars,
        strategies_dir=directory,
        overlay_dir=overlay,
        data_dir=settings.data_dir,
        database_url=settings.database_url.get_secret_value() if settings.database_url else None,
        on_shutdown=settings.on_shutdown,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        max_daily_loss_pct=args.max_daily_loss_pct,
        risk=risk,
        risk_path=settings.risk_config,
        status_interval_s=settings.status_interval_s if interval is None else interval,
        alerts=alert_config(settings),
        api_host=settings.api_host,
        api_port=settings.api_port,
        api_token=settings.api_token,
    )
    if not args.live:
        return run_paper(config, live)
    from genesis.daemon.assemble import run_live
    from genesis.daemon.live_session import LiveEndpoints

    assert live is not None
    endpoints = (
        None
        if credentials is None  # no Binance instrument: every venue trades through ccxt
        else LiveEndpoints(
            rest_url=settings.binance_rest_url,
            ws_url=settings.binance_ws_url,
            ws_api_url=settings.binance_ws_api_url,
            credentials=credentials,
        )
    )
    return run_live(config, endpoints, live, settings.ccxt_venues, _oanda(settings))


def _oanda(settings: Settings) -> Any:
    """The OANDA venue's endpoints and token, or None without a token."""
    from genesis.daemon.oanda_live import OandaEndpoints

    if settings.oanda_token is None:
        return None
    return OandaEndpoints(
        rest_url=settings.oanda_rest_url,
        stream_url=settings.oanda_stream_url,
        account_id=settings.oanda_account_id,
        token=settings.oanda_token.get_secret_value(),
    )


def _data_specs(
    args: argparse.Namespace, configs: tuple[Any, ...], tier: Tier
) -> tuple[DataSpec, ...]:
    """``--data`` values, or the bundled recordings of the strategies' instruments."""
    if not args.data:
        return bundled_specs(configs, args.symbol, tier)
    specs = []
    for text in args.data:
        bare = "=" not in text and text.removesuffix(".gz").endswith(".csv")
        if bare and args.symbol:
            text = f"{args.symbol}={text}"
        try:
            specs.append(parse_data_arg(text))
        except ConfigError:
            if not bare:
                raise
            specs.append(parse_data_arg(f"BTCUSDT={text}"))  # as before: bars are BTCUSDT
    return tuple(specs)


def bundled_specs(
    configs: tuple[Any, ...], symbol: str | None = None, tier: Tier | None = None
) -> tuple[DataSpec, ...]:
    """The bundled recording of each instrument the strategies trade (the BTCUSDT month
    when none is bundled, as before).

    The recordings come from different days (January 2018, January and December
    2022): each is shifted to start with the earliest, so they replay side by side
    and every strategy trades from the first minute. The shift is logged by the
    daemon's data description, and relative times inside a recording are kept.
    """
    wanted = dict.fromkeys(i for c in configs for i in c.instruments)
    bundled = {
        **resources.BUNDLED_BY_INSTRUMENT,
        **resources.BUNDLED_FOR_TIER.get(tier.value if tier else "", {}),
    }
    specs = []
    for iid in wanted:
        path = bundled.get(iid)
        if path is not None:
            venue, sym = split_instrument_id(iid)
            specs.append(DataSpec(path=path, venue=venue, symbol=sym))
    if not specs:
        sym = symbol or "BTCUSDT"
        return (DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol=sym),)
    starts = [first_event_ns(s) for s in specs]
    t0 = min(starts)
    return tuple(replace(s, shift_ns=t0 - t) for s, t in zip(specs, starts, strict=True))


def _check_covered(
    configs: tuple[Any, ...], specs: tuple[DataSpec, ...], table: Any
) -> tuple[Any, ...]:
    """Say so when a strategy trades an instrument the recordings do not bring; leave out
    (and say so) one trading an instrument neither the recordings nor the venue's
    metadata know: a replay has nothing to price it with.

    Raises:
        ConfigError: no strategy is left.
    """
    have = {row.instrument_id for row in describe_sources(specs)}
    kept = []
    for config in configs:
        missing = [i for i in config.instruments if i not in have]
        unknown = [i for i in missing if i not in table]
        if unknown:
            print(
                f"genesis: strategy {config.id} trades {', '.join(unknown)}, which neither the"
                " recordings nor the venue metadata know: not loaded",
                file=sys.stderr,
            )
            continue
        kept.append(config)
        if missing:
            print(
                f"genesis: strategy {config.id} trades {', '.join(missing)} but no --data brings"
                f" it: it will not trade (the recordings have: {', '.join(sorted(have))})",
                file=sys.stderr,
            )
    if not kept:
        raise ConfigError("no strategy can run on these recordings (see the lines above)")
    return tuple(kept)


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
    if args.data or args.market_data == "recording":
        raise ConfigError(
            "--live trades on the venue's live market data: drop --data/--market-data"
        )
    from genesis.exchange.binance.signing import Credentials

    return Credentials(present["GENESIS_BINANCE_API_KEY"], present["GENESIS_BINANCE_API_SECRET"])


def _check_fees(args: argparse.Namespace, venues: set[str], tier: Tier) -> None:
    """``--venue-fee-bps`` only for venues the tier trades.

    Raises:
        ConfigError: either is not so (the message names the value or the venues).
    """
    unknown = sorted(set(dict(args.venue_fee_bps)) - venues)
    if unknown:
        raise ConfigError(
            f"--venue-fee-bps names {', '.join(unknown)}, which no enabled {tier.value} strategy"
            f" trades (its venues: {', '.join(sorted(venues))})"
        )
