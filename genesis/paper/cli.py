"""``genesis promotion list|approve|reject`` and ``genesis ab compare|expect``.

``promotion`` reads and writes the paper daemon's journal directly, as ``genesis
kill`` does: whoever may open the journal (the data directory, or the PostgreSQL
URL) is the operator; its rows carry actor ``operator``. A decision is durable at
once; a running daemon's monitor sees it at its next pass. ``ab compare`` reads
finished backtest run directories (``backtest --out``, ``optimize --keep-runs``)
on the same data, or with ``--journal`` the strategies of one paper session (variants
running side by side in one daemon); ``ab expect`` prints the interval a paper strategy is held to.
Output is JSON on stdout; bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.backtesting.rundir import read_run
from genesis.cliargs import decimal_arg
from genesis.errors import ConfigError
from genesis.paper.ledger import ALLOCATIONS_FILE, PromotionLedger, PromotionRefused
from genesis.paper.session import session_returns
from genesis.paper.stats import bootstrap_mean, compare, holm
from genesis.settings import load_settings
from genesis.storage import open_repository
from genesis.storage.factory import DEFAULT_SQLITE_NAME
from genesis.storage.repository import AuditRecord

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``promotion`` and ``ab``."""
    p = sub.add_parser("promotion", help="list, approve or reject promotions to live (PT-2)")
    acts = p.add_subparsers(dest="action", required=True)
    acts.add_parser("list", help="every promotion with its evidence and schedule, as JSON")
    decisions = (
        ("approve", "grant the first capital step"),
        ("reject", "reject a proposal or revoke an approved promotion"),
    )
    for name, what in decisions:
        a = acts.add_parser(name, help=what)
        a.add_argument("promotion_id", help="as `genesis promotion list` shows it")
        a.add_argument("--reason", required=True, help="why; kept in the audit log")
    ab = sub.add_parser("ab", help="A/B: compare parameter sets' returns; backtest expectation")
    modes = ab.add_subparsers(dest="mode", required=True)
    c = modes.add_parser("compare", help="each run against the first: Welch t and Mann-Whitney")
    runs_help = ("backtest run directories on the same data, or with --journal a paper"
                 " session's strategy ids; the first is the baseline")  # fmt: skip
    c.add_argument("runs", nargs="+", metavar="RUN_DIR|STRATEGY_ID", help=runs_help)
    returns_help = "daily: UTC daily returns of equity.csv; trades: each trade's net P&L"
    c.add_argument("--returns", choices=("daily", "trades"), default="daily", help=returns_help)
    c.add_argument("--alpha", type=float, default=0.05, help="significance level (Holm p)")
    c.add_argument("--journal", type=Path, default=None, metavar="FILE",
                   help="a paper session's SQLite journal (genesis.db): compare its strategies,"
                        " each one parameter set running in the same daemon")  # fmt: skip
    c.add_argument("--capital", type=decimal_arg("--capital", positive=True), default=None,
                   help="with --journal and daily returns: each strategy's capital")  # fmt: skip
    e = modes.add_parser("expect", help="bootstrap interval of a run's mean net P&L per trade")
    e.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `backtest --out` directory")
    e.add_argument("--paths", type=int, default=2000, help="bootstrap resamples")
    e.add_argument("--seed", type=int, default=7, help="random seed (numpy)")
    e.add_argument("--level", type=float, default=0.95, help="interval coverage")


def run(args: argparse.Namespace) -> int:
    if args.command == "ab":
        if args.mode == "expect":
            out = ab_expect(args.run_dir, args.paths, args.seed, args.level)
        elif args.journal is not None:
            out = ab_compare_session(args.journal, args.runs, args.returns, args.alpha,
                                     args.capital)  # fmt: skip
        else:
            out = ab_compare([Path(r) for r in args.runs], args.returns, args.alpha)
        print(json.dumps(out, sort_keys=True))
        return 0
    settings = load_settings()
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return asyncio.run(_promotion(args, url, Path(settings.data_dir)))


async def _promotion(args: argparse.Namespace, url: str | None, data_dir: Path) -> int:
    repo = await open_repository(url, data_dir, DEFAULT_SQLITE_NAME)
    ledger = PromotionLedger(repo, data_dir / ALLOCATIONS_FILE)
    try:
        if args.action == "list":
            print(json.dumps([p.as_json() for p in await ledger.promotions()], sort_keys=True))
            return 0
        decide = ledger.approve if args.action == "approve" else ledger.reject
        try:
            promotion = await decide(args.promotion_id, "operator", args.reason, time.time_ns())
        except PromotionRefused as exc:
            raise ConfigError(f"{exc} ({exc.code})") from None
        print(json.dumps(promotion.as_json(), sort_keys=True))
        return 0
    finally:
        await repo.close()


def ab_compare(runs: list[Path], returns: str, alpha: float) -> dict[str, Any]:
    """Every run after the first compared with the first (see ``genesis.paper.stats``)."""
    _check_compare(runs, alpha)
    out = _compared([(str(r), _returns(r, returns)) for r in runs], returns, alpha, "run")
    return {"baseline": str(runs[0]), **out}


def ab_compare_session(
    journal: Path, strategy_ids: list[str], returns: str, alpha: float, capital: Decimal | None
) -> dict[str, Any]:
    """Strategies of one paper session compared with the first (``genesis.paper.session``)."""
    _check_compare(strategy_ids, alpha)
    if not journal.is_file():  # opening would create an empty journal
        raise ConfigError(f"--journal {journal}: no such file")
    rows = asyncio.run(_audit_rows(f"sqlite:///{journal.resolve()}", journal.parent))
    series = session_returns(rows, strategy_ids, returns, capital)
    out = _compared(list(zip(strategy_ids, series, strict=True)), returns, alpha, "strategy")
    return {"journal": str(journal), "baseline": strategy_ids[0], **out}


async def _audit_rows(url: str, data_dir: Path) -> list[AuditRecord]:
    repo = await open_repository(url, data_dir)
    try:
        return await repo.audit_log(0)
    finally:
        await repo.close()


def _check_compare(names: list[Any], alpha: float) -> None:
    if len(names) < 2:
        raise ConfigError("ab compare needs a baseline and at least one variant")
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha is in (0, 1), was {alpha}")


def _compared(
    series: list[tuple[str, list[float]]], returns: str, alpha: float, key: str
) -> dict[str, Any]:
    _, base = series[0]
    pairs = [compare(base, values).fields() for _, values in series[1:]]
    for pair, p_holm in zip(pairs, holm([p["welch_p"] for p in pairs]), strict=True):
        pair["welch_p_holm"] = p_holm
        pair["different"] = p_holm < alpha
    return {
        "returns": returns,
        "alpha": alpha,
        "variants": [{key: name, **pair} for (name, _), pair in
                     zip(series[1:], pairs, strict=True)],
    }  # fmt: skip


def _returns(run_dir: Path, kind: str) -> list[float]:
    files = read_run(run_dir)
    if kind == "trades":
        return [float(p) for p in files.trade_pnls]
    return [float(r) for r in files.returns("daily")[0]]


def ab_expect(run_dir: Path, paths: int, seed: int, level: float) -> dict[str, Any]:
    """The run's interval of the mean net P&L per trade, as ``expected_trade_pnl``."""
    if paths < 1:
        raise ConfigError(f"--paths is at least 1, was {paths}")
    pnls = read_run(run_dir).trade_pnls
    low, high = bootstrap_mean(pnls, paths=paths, seed=seed, level=level)
    mean = (sum(pnls, start=low * 0) / len(pnls)).quantize(low)
    return {
        "run": str(run_dir), "trades": len(pnls), "mean_trade_pnl": str(mean),
        "level": level, "paths": paths, "seed": seed,
        "expected_trade_pnl": [str(low), str(high)],
    }  # fmt: skip
