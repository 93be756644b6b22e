"""The options of one backtest run, shared by ``backtest`` and ``optimize``.

Both commands run the same engine on the same inputs, so they take the same
flags (strategy, data, instrument, cash, fees, slippage, latency, risk tier,
venue kind, accounting, output) with the same types, defaults and messages.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

from genesis import resources
from genesis.cliargs import decimal_arg
from genesis.core.enums import AccountingMethod
from genesis.execution.emulation import CAPABILITIES
from genesis.kernel.regimes import parse_regimes
from genesis.risk.limits import Tier

__all__ = ["add_run_args"]


def add_run_args(
    p: argparse.ArgumentParser, data_help: str, *, strategy_required: bool = True
) -> None:
    """The options of one run shared by ``backtest`` and ``optimize``: strategy, data,
    instrument, cash, fees, slippage, latency, risk tier, venue kind, accounting, output.
    ``strategy_required`` False: the command checks it (backtest: not for a session log)."""
    p.add_argument(
        "--strategy",
        required=strategy_required,
        help="registered name or pkg.module:Class"
        + ("" if strategy_required else " (required, except with a session log as --data)"),
    )
    p.add_argument(
        "--data", action="append", default=None, metavar="[[VENUE:]SYMBOL=]FILE", help=data_help
    )
    _add_instrument_args(p)
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="a strategy parameter, checked by the strategy's model (repeatable)",
    )  # fmt: skip
    _add_cost_args(p)
    p.add_argument(
        "--tier",
        choices=[t.value for t in Tier],
        default=None,
        help="apply that tier's risk limits",
    )
    p.add_argument(
        "--risk-config",
        type=Path,
        default=None,
        help="risk limits YAML (config/risk.yaml's format) for --tier (default:"
        " GENESIS_RISK_CONFIG, else the built-in limits)",
    )
    p.add_argument(
        "--capabilities",
        choices=sorted(CAPABILITIES),
        default="simulated",
        help="trade as on that kind of venue: what it lacks the kernel emulates, as live"
        " (ccxt: stops held locally, stop-loss/take-profit lists kept by the kernel)",
    )
    p.add_argument(
        "--regimes",
        type=_regimes,
        default=(),
        metavar="R[,R...]",
        help="trade only while the instrument's regime is one of these: trending, ranging,"
        " volatile (ST-H4; regime from the bars)",
    )
    p.add_argument(
        "--accounting", choices=[m.value for m in AccountingMethod], default="FIFO",
        help="cost basis of closed lots",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("out"), help="output directory")
    p.add_argument("--quiet", action="store_true", help="no summary table")


def _add_cost_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cash", type=decimal_arg("--cash", positive=True), default=Decimal(1_000_000),
        help="starting balance in the quote currency",
    )  # fmt: skip
    p.add_argument(
        "--fee-bps",
        type=decimal_arg("--fee-bps"),
        default=Decimal(0),
        help="taker fee (and maker unless --maker-fee-bps)",
    )
    p.add_argument(
        "--maker-fee-bps", type=decimal_arg("--maker-fee-bps"), default=None,
        help="maker fee in basis points (default: --fee-bps)",
    )  # fmt: skip
    p.add_argument(
        "--slippage-bps", type=decimal_arg("--slippage-bps"), default=Decimal(0),
        help="slippage against the taker, in basis points of the fill price",
    )  # fmt: skip
    p.add_argument(
        "--latency-ms",
        type=decimal_arg("--latency-ms"),
        default=Decimal(0),
        help="order latency; on bars any latency > 0 moves fills to the bar after next"
        " (prices inside a bar are unknown); on a recording, event time until the venue sees it",
    )


def _add_instrument_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--symbol",
        default=None,
        help="the instrument of a single --data FILE (default: from the file's name, as"
        " binance-ethbtc-5m-... -> ETHBTC; else BTCUSDT)",
    )
    p.add_argument(
        "--tick-size", type=decimal_arg("--tick-size", positive=True), default=None,
        help="price increment of a symbol not in the venue metadata (default: from the data)",
    )  # fmt: skip
    p.add_argument(
        "--step-size", type=decimal_arg("--step-size", positive=True), default=None,
        help="quantity increment of a symbol not in the venue metadata (default: 0.00000001)",
    )  # fmt: skip
    p.add_argument(
        "--base", default=None, help="base asset when --symbol is not in the venue metadata"
    )
    p.add_argument(
        "--quote", default=None, help="quote asset when --symbol is not in the venue metadata"
    )
    p.add_argument(
        "--exchange-info",
        type=Path,
        default=resources.EXCHANGE_INFO,
        help="Binance exchangeInfo JSON (.gz ok)",
    )


def _regimes(text: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    try:
        parse_regimes(names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names
