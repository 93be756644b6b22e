"""``backtest --ask-data``: the FX options and the FX run of ``python -m genesis backtest``.

``--data BID --ask-data ASK --symbol GBPUSD`` replays one pair's bid and ask bar
files (``genesis.backtesting.fx``); ``--account-currency`` (default: the quote
currency), ``--financing-long``/``--financing-short`` (annual rates the holder
receives; defaults in ``genesis.core.fx``) and ``--margin-rate`` set the account
and the pair's terms. docs/fx.md has the rules.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from genesis.backtesting.runner import BacktestConfig
from genesis.cliargs import decimal_arg
from genesis.core.instruments import Instrument
from genesis.errors import ConfigError
from genesis.strategies import registry

if TYPE_CHECKING:  # the FX engine is imported by an FX run only: a backtest parser needs none of it
    from genesis.backtesting.fx import FxResult
    from genesis.core.fx import FxPair

__all__ = ["add_fx_args", "run_fx"]


def add_fx_args(p: argparse.ArgumentParser) -> None:
    """The FX options of ``backtest``."""
    g = p.add_argument_group("FX (with --ask-data)")
    g.add_argument(
        "--ask-data", type=Path, default=None, metavar="FILE",
        help="ask bars of the pair whose bid bars are --data: an FX backtest (buys fill at"
        " the ask, sells at the bid, financing at the 17:00 New York rollover)",
    )  # fmt: skip
    g.add_argument(
        "--account-currency", default=None, metavar="CCY",
        help="FX: the account's currency, the pair's quote (default) or base",
    )  # fmt: skip
    g.add_argument(
        "--financing-long", type=decimal_arg("--financing-long"), default=None, metavar="RATE",
        help="FX: annual rate a long position receives at each rollover, e.g. -0.025 (pays"
        " 2.5%%); default -0.025",
    )  # fmt: skip
    g.add_argument(
        "--financing-short", type=decimal_arg("--financing-short"), default=None,
        metavar="RATE", help="FX: annual rate a short position receives; default -0.005",
    )  # fmt: skip
    g.add_argument(
        "--margin-rate", type=decimal_arg("--margin-rate", positive=True), default=None,
        metavar="RATE", help="FX: margin as a fraction of notional; default 0.0333 (30:1)",
    )  # fmt: skip


def fx_terms(args: argparse.Namespace) -> tuple[FxPair, str]:
    """The pair (built-in terms with the command line's rates) and the account currency.

    Raises:
        ConfigError: not a currency pair, or an account currency it cannot convert to.
    """
    from genesis.core.fx import fx_pair, to_account

    pair = fx_pair(args.symbol).with_rates(args.financing_long, args.financing_short)
    if args.margin_rate is not None:
        pair = replace(pair, margin_rate=args.margin_rate)
    account = (args.account_currency or pair.quote).strip().upper()
    to_account(pair.pip, pair, pair.pip, account)  # ConfigError now for a third currency
    return pair, account


def run_fx(
    args: argparse.Namespace,
    params: dict[str, str],
    make_config: Callable[[dict[str, str], Instrument], BacktestConfig],
) -> int:
    """Run the FX backtest of ``--data BID --ask-data ASK``; the process exit code.

    ``params`` are the ``--param`` values; ``make_config`` the backtest command's own
    config of a run (costs, tier, accounting) for an instrument.
    """
    if args.strategy is None:
        raise ConfigError("--strategy is required")
    if not args.data or len(args.data) != 1:
        raise ConfigError("--ask-data needs exactly one --data: the bid bars of the same pair")
    bid = Path(args.data[0])
    for flag, path in (("--data", bid), ("--ask-data", args.ask_data)):
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: no such file")
    if args.symbol is None:
        raise ConfigError("--ask-data needs --symbol, the pair (e.g. GBPUSD)")
    registry.parse_params(registry.get(args.strategy), params, source="--param")
    pair, account = fx_terms(args)
    inst = pair.instrument()
    config = make_config(params, inst)
    print(
        f"fx pair {pair.symbol}: pip {pair.pip}, tick {pair.tick_size}, units step"
        f" {pair.units_step}, margin {pair.margin_rate}, financing long {pair.long_rate}"
        f" short {pair.short_rate} a year; account {account}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    from genesis.backtesting.fx import run_fx_backtest

    result = run_fx_backtest(config, pair, account, bid, args.ask_data, args.out)
    if not args.quiet:
        _summary(args, result, time.perf_counter() - started, sys.stdout)
    for error in result.strategy_errors:
        print(f"strategy disabled after an error: {error}", file=sys.stderr)
    return 0


def _summary(args: argparse.Namespace, result: FxResult, seconds: float, out: IO[str]) -> None:
    m, ledger, stats = result.metrics, result.ledger, result.stats
    ccy = ledger.account
    rows = [
        ("strategy", f"{args.strategy} on {ledger.instrument_id} (bid/ask bars)"),
        (
            "bars",
            f"{result.bars:,} in {seconds:.2f} s ({stats.bid_only} bid-only,"
            f" {stats.ask_only} ask-only, {stats.crossed} crossed skipped)",
        ),
        ("trades", f"{m.trades} ({result.fills} fills, {m.rejected_orders} rejected orders)"),
        ("final equity", f"{m.final_equity} {ccy} (NAV at the mid)"),
        ("realized P&L", f"{ledger.realized} {ccy}"),
        ("financing", f"{ledger.financing} {ccy} ({len(ledger.entries)} rollovers)"),
        ("fees", f"{ledger.fees} {ccy}"),
        ("open units", f"{ledger.units}"),
        ("total return", _pct(m.total_return)),
        ("max drawdown", _pct(m.max_drawdown)),
        ("output", str(args.out)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value}\n")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"
