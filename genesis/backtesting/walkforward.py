"""Walk-forward validation (SPEC BT-5): in-sample search, out-of-sample run, stitched curve.

The data's time range (bar ``ts_open`` in UTC, up to the last bar's close) is cut
into windows. Each window has an in-sample (train) span, searched with the
ordinary grid (``optimize``), and the out-of-sample (test) span right after it,
run with the best in-sample parameters:

* rolling: the train span has a fixed length and slides by ``step``;
* anchored: the train span always starts at the data's first bar and grows by
  ``step``.

The test span has a fixed length; windows are made while the whole test span
fits in the data, so no window is ever partial.

Warm-up: each out-of-sample run starts cold on the test bars only, flat and with
the starting cash, exactly as a fresh deployment of the chosen parameters
would. Nothing before the test span is seen, so there is no look-ahead and no
trade needs to be discarded; the cost is that an indicator's lookback (say
``slow`` bars for ``sma_cross``) at the start of each test span trades nothing.

Stitching: each window's out-of-sample run is a return series on the starting
cash; the stitched curve chains them, so window ``k``'s curve is scaled by the
growth of windows ``0..k-1``. Trade P&L and fees are scaled the same way and the
stitched metrics are ``metrics.compute_metrics`` on the chained curve (the
per-bar and the daily figures). A window whose search found no usable row
stays in cash over its test span (growth 1, no trades).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np

from genesis.backtesting.metrics import Metrics, compute_metrics
from genesis.backtesting.optimize import Axis, Row, format_value, rank
from genesis.errors import ConfigError

__all__ = [
    "OosRun",
    "Stitched",
    "Window",
    "make_windows",
    "parse_duration",
    "pick",
    "stitch",
    "utc",
    "write_equity",
    "write_windows",
]

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(\d+)([smhdw])")
_NS_PER_S: Final = 1_000_000_000
_CENT: Final = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window: train ``[train_start, train_end)`` then test
    ``[test_start, test_end)``, in ns since the epoch (bar ``ts_open``)."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


@dataclass(frozen=True, slots=True)
class OosRun:
    """What stitching needs of one window's out-of-sample run (all on the starting cash):
    the equity after each test bar, its trades' P&L, and its exact totals."""

    times: Sequence[int]
    equity: Sequence[float]
    trade_pnls: Sequence[float]
    final_equity: Decimal
    fees: Decimal
    exposed_bars: int
    rejected_orders: int


@dataclass(frozen=True, slots=True)
class Stitched:
    """The chained out-of-sample curve, each window's starting level and its metrics."""

    times: list[int]
    equity: list[float]
    starts: list[Decimal]
    metrics: Metrics


def parse_duration(flag: str, text: str) -> int:
    """``14d``, ``12h``, ``90m``, ``2w``, ``30s`` → nanoseconds.

    Raises:
        ConfigError: not a whole number > 0 followed by one of s, m, h, d, w.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) <= 0:
        raise ConfigError(
            f"{flag} {text!r}: expected a whole number > 0 and a unit s, m, h, d or w (as 14d)"
        )
    return int(match[1]) * _UNITS[match[2]] * _NS_PER_S


def make_windows(
    start: int, end: int, *, train: int, test: int, step: int, anchored: bool
) -> list[Window]:
    """The windows over data spanning ``[start, end)`` (see the module docstring).

    Raises:
        ConfigError: not even one window's train and test spans fit in the data.
    """
    windows: list[Window] = []
    k = 0
    while True:
        train_start = start if anchored else start + k * step
        train_end = start + train + k * step
        if train_end + test > end:
            break
        windows.append(Window(k, train_start, train_end, train_end, train_end + test))
        k += 1
    if not windows:
        raise ConfigError(
            f"--train + --test: {_days(train + test)} do not fit in the data, which spans"
            f" {_days(end - start)} ({utc(start)} .. {utc(end)}); shorten them"
        )
    return windows


def _days(ns: int) -> str:
    return f"{ns / (86_400 * _NS_PER_S):g} days"


def utc(ts_ns: int) -> str:
    """``2022-01-01T00:00:00Z``: a window boundary as text."""
    when = datetime.fromtimestamp(ts_ns // _NS_PER_S, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def pick(rows: Sequence[Row], objective: str, axes: Sequence[Axis]) -> Row | None:
    """The best row of one window's search, ranked as ``optimize`` ranks: the first ``ok``
    row with a value for the objective, or None when there is none."""
    for row in rank(rows, objective, axes):
        if (
            row.status == "ok"
            and row.metrics is not None
            and row.metrics.get(objective) is not None
        ):
            return row
    return None


def stitch(cash: Decimal, runs: Sequence[OosRun], periods_per_year: float) -> Stitched:
    """Chain the windows' out-of-sample runs from ``cash`` and compute the metrics of the
    chained curve (module docstring)."""
    level = cash
    times: list[int] = []
    curve: list[float] = []
    pnls: list[float] = []
    starts: list[Decimal] = []
    fees = Decimal(0)
    exposed = rejected = 0
    for run in runs:
        starts.append(level)
        factor = level / cash
        times.extend(run.times)
        curve.extend((np.asarray(run.equity, dtype=np.float64) * float(factor)).tolist())
        pnls.extend((np.asarray(run.trade_pnls, dtype=np.float64) * float(factor)).tolist())
        fees += run.fees * factor
        exposed += run.exposed_bars
        rejected += run.rejected_orders
        level = level * run.final_equity / cash
    metrics = compute_metrics(
        initial_equity=cash,
        equity=curve,
        timestamps_ns=times,
        trade_pnls=pnls,
        exposed_bars=exposed,
        fees=fees.quantize(_CENT),
        rejected_orders=rejected,
        final_equity=level.quantize(_CENT),
        periods_per_year=periods_per_year,
    )
    return Stitched(times, curve, starts, metrics)


def metric_names() -> list[str]:
    """Every ``Metrics`` field, in order."""
    return [f.name for f in fields(Metrics)]


def window_columns(axes: Sequence[Axis], objective: str) -> list[str]:
    """walkforward.csv's columns: the window, its spans, the chosen parameters, the
    in-sample objective and status, the stitched level at the test start, the OOS metrics."""
    return [
        "window", "train_start", "train_end", "test_start", "test_end",
        *(a.name for a in axes), f"is_{objective}", "status", "oos_start_equity",
        *(f"oos_{m}" for m in metric_names()),
    ]  # fmt: skip


def window_record(
    window: Window,
    chosen: Row | None,
    objective: str,
    start_equity: Decimal,
    oos: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """One window as a plain dict (a walkforward.csv row, an entry of walkforward.json)."""
    return {
        "window": window.index,
        "train_start": utc(window.train_start),
        "train_end": utc(window.train_end),
        "test_start": utc(window.test_start),
        "test_end": utc(window.test_end),
        "params": None if chosen is None else dict(chosen.grid),
        f"is_{objective}": None if chosen is None or chosen.metrics is None
        else chosen.metrics.get(objective),
        "status": "ok" if chosen is not None else "no_valid_row",
        "oos_start_equity": format(start_equity.quantize(_CENT), "f"),
        "oos": None if oos is None else dict(oos),
    }  # fmt: skip


def write_windows(
    path: Path, records: Sequence[Mapping[str, Any]], axes: Sequence[Axis], objective: str
) -> None:
    """``walkforward.csv``: one row per window; floats as ``repr``, a missing value empty."""
    columns = window_columns(axes, objective)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            cells = {k: v for k, v in record.items() if k not in ("params", "oos")}
            cells.update(record["params"] or {})
            cells.update({f"oos_{k}": v for k, v in (record["oos"] or {}).items()})
            writer.writerow([format_value(cells.get(c)) for c in columns])


def write_equity(path: Path, stitched: Stitched) -> None:
    """``walkforward_equity.csv``: ``timestamp,equity``, the chained out-of-sample curve."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("timestamp,equity\n")
        fh.writelines(
            f"{utc(t)},{e!r}\n" for t, e in zip(stitched.times, stitched.equity, strict=True)
        )
