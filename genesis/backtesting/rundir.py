"""Read a finished backtest back from its run directory (what ``backtest --out`` wrote).

The analyses that come after a run (Monte Carlo, later the report) start from its
files, not from a live ``BacktestResult``: ``metrics.json`` (the starting cash and
the annualisation), ``trades.csv`` (one row per closed lot, its exact net P&L) and
``equity.csv`` (one row per bar or sample). A missing directory or file is a
``ConfigError`` naming it; a file that is there but unreadable is a ``DataError``
naming the file, the line and what was expected.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from genesis.backtesting.metrics import DAYS_PER_YEAR, daily_closes
from genesis.errors import ConfigError, DataError

__all__ = ["RunFiles", "read_run"]

METRICS = "metrics.json"
TRADES = "trades.csv"
EQUITY = "equity.csv"


@dataclass(frozen=True, slots=True)
class RunFiles:
    """What a Monte Carlo (or a report) needs of a finished run."""

    directory: Path
    initial_equity: Decimal
    periods_per_year: float  # equity rows per year, as the run's metrics annualised
    trade_pnls: tuple[Decimal, ...]  # net P&L of each closed lot, in closing order
    times_ns: npt.NDArray[np.int64]  # equity.csv timestamps, ns since the epoch (UTC)
    equity: npt.NDArray[np.float64]

    def returns(self, kind: Literal["daily", "bar"]) -> tuple[npt.NDArray[np.float64], float]:
        """Daily (UTC, as the daily metrics) or per-bar simple returns and periods a year.

        The first return is measured from the starting cash, as in ``metrics.py``.
        """
        if kind == "daily":
            closes, ppy = daily_closes(self.times_ns, self.equity)[1], DAYS_PER_YEAR
        else:
            closes, ppy = self.equity, self.periods_per_year
        wealth = np.concatenate(([float(self.initial_equity)], closes))
        return wealth[1:] / wealth[:-1] - 1.0, ppy


def read_run(directory: Path, *, cash: Decimal | None = None) -> RunFiles:
    """Read ``metrics.json``, ``trades.csv`` and ``equity.csv`` from ``directory``.

    Args:
        directory: a backtest's ``--out`` directory.
        cash: the starting cash, for runs whose ``metrics.json`` predates
            ``initial_equity``; when both are there they must agree.

    Raises:
        ConfigError: ``directory`` or one of the three files does not exist.
        DataError: a file cannot be parsed (the message names file, line and reason).
    """
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such run directory (a `backtest --out` directory)")
    for name in (METRICS, TRADES, EQUITY):
        if not (directory / name).is_file():
            raise ConfigError(
                f"{directory}: no {name}; is this a finished backtest's --out directory?"
            )
    metrics = _read_metrics(directory / METRICS)
    times, equity = _read_equity(directory / EQUITY)
    return RunFiles(
        directory=directory,
        initial_equity=_initial_equity(directory / METRICS, metrics, cash),
        periods_per_year=_periods_per_year(directory / METRICS, metrics),
        trade_pnls=_read_pnls(directory / TRADES),
        times_ns=times,
        equity=equity,
    )


def _read_metrics(path: Path) -> dict[str, object]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a metrics JSON file ({exc})") from None
    if not isinstance(loaded, dict):
        raise DataError(f"{path}: expected a JSON object of metrics")
    return loaded


def _initial_equity(path: Path, metrics: dict[str, object], cash: Decimal | None) -> Decimal:
    text = metrics.get("initial_equity")
    if text is None:
        if cash is None:
            raise ConfigError(
                f"{path} has no initial_equity (a run from an older version); pass --cash"
            )
        return cash
    value = _decimal(text, f"{path}: initial_equity")
    if value <= 0:
        raise DataError(f"{path}: initial_equity {value} must be > 0")
    if cash is not None and cash != value:
        raise ConfigError(f"--cash {cash} disagrees with {path}: initial_equity {value}")
    return value


def _periods_per_year(path: Path, metrics: dict[str, object]) -> float:
    value = metrics.get("periods_per_year")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise DataError(f"{path}: periods_per_year {value!r}; expected a number > 0")
    return float(value)


def _read_pnls(path: Path) -> tuple[Decimal, ...]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "pnl" not in reader.fieldnames:
            raise DataError(f"{path}:1: expected a header with a `pnl` column")
        return tuple(_decimal(row["pnl"], f"{path}:{reader.line_num}: pnl") for row in reader)


def _read_equity(path: Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != ["timestamp", "equity"]:
            raise DataError(f"{path}:1: expected the header `timestamp,equity`")
        rows = list(reader)
    if not rows:
        raise DataError(f"{path}: no equity rows")
    bad = next((i for i, row in enumerate(rows) if len(row) != 2), None)
    if bad is not None:
        raise DataError(f"{path}:{bad + 2}: expected two fields, timestamp and equity")
    stamps, values = zip(*rows, strict=True)
    try:
        times = np.array(stamps, dtype="datetime64[ns]").astype(np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: a timestamp is not `YYYY-MM-DD HH:MM:SS` ({exc})") from None
    try:
        equity = np.array(values, dtype=np.float64)
    except ValueError:
        index = next(i for i, v in enumerate(values) if not _is_float(v))
        raise DataError(f"{path}:{index + 2}: equity {values[index]!r} is not a number") from None
    if not (np.isfinite(equity).all() and (equity > 0).all()):
        index = int(np.flatnonzero(~(np.isfinite(equity) & (equity > 0)))[0])
        raise DataError(f"{path}:{index + 2}: equity {values[index]} must be a number > 0")
    return times, equity


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _decimal(text: object, where: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise DataError(f"{where} {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise DataError(f"{where} {text!r} is not a finite number")
    return value
