"""Parameter search (SPEC BT-5): the grid, its rows, their ranking and the output files.

A search is the cartesian product of ``--grid`` axes (``fast=5..20:5``,
``mode=a,b``), each point merged with the fixed ``--param`` values and
validated by the strategy's own params model *before* anything runs: a point
the model rejects (``fast >= slow`` for ``sma_cross``) becomes an ``invalid``
row with the model's reason, never a crash. The valid points run through the
ordinary backtest engine (``optimize_exec``), anywhere; their rows come back
in any order and are ranked here, so the table depends only on the grid:

* best first by the objective (higher is better, except for the few metrics
  in ``LOWER_IS_BETTER``), ties broken by the parameter tuple (numbers
  compared as numbers), rows without a value for the objective after, then
  rows whose strategy was disabled by an error, then the invalid rows;
* every float written with ``repr`` (shortest round trip), as metrics.json.

``optimize.csv`` holds every row; ``optimize.json`` the grid, objective, data
file and its SHA-256, the backtest options and the engine version: what it
takes to run the search again and get the same table.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Final

from genesis.backtesting.metrics import Metrics
from genesis.errors import ConfigError
from genesis.strategies import registry

__all__ = [
    "LOWER_IS_BETTER",
    "OBJECTIVES",
    "Axis",
    "Row",
    "check_names",
    "check_objective",
    "expand",
    "parse_axis",
    "rank",
    "render_table",
    "validate_points",
    "write_csv",
]

MAX_POINTS: Final = 100_000  # a grid larger than this is a typo, not a search
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"({_NUMBER})\.\.({_NUMBER})(?::({_NUMBER}))?")
_SYNTAX = "expected NAME=START..END:STEP or NAME=V1,V2,..."

# metrics that are the same for every point of a grid are not objectives
_CONSTANT = frozenset({"periods_per_year", "initial_equity", "days", "days_per_year"})
OBJECTIVES: Final = tuple(f.name for f in fields(Metrics) if f.name not in _CONSTANT)
LOWER_IS_BETTER: Final = frozenset({"max_drawdown_duration", "fees", "rejected_orders"})


@dataclass(frozen=True, slots=True)
class Axis:
    """One ``--grid`` axis: the parameter, its values (as text, for the params model) and
    the text it was given as."""

    name: str
    values: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Row:
    """One grid point's outcome. ``status`` is ``ok``, ``strategy_error`` (the strategy was
    disabled mid-run; the metrics are those of the run) or ``invalid`` (the params model
    rejected the point: no run, no metrics); ``detail`` says why when not ``ok``."""

    grid: Mapping[str, str]
    status: str
    detail: str = ""
    metrics: Mapping[str, Any] | None = None


def parse_axis(text: str) -> Axis:
    """``fast=5..20:5`` (START..END inclusive, STEP optional for integers, decimals kept at
    their finest precision: ``0.5..1:0.25`` → 0.50, 0.75, 1.00) or ``mode=a,b,c``.

    Raises:
        ConfigError: bad syntax, an empty or repeated value, END below START, a step <= 0.
    """
    name, sep, spec = (part.strip() for part in text.partition("="))
    if not sep or not _NAME.fullmatch(name) or not spec:
        raise ConfigError(f"--grid {text!r}: {_SYNTAX}")
    if ".." in spec:
        return Axis(name, _range_values(text, spec), text)
    values = tuple(v.strip() for v in spec.split(","))
    if "" in values:
        raise ConfigError(f"--grid {text!r}: an empty value in the list; {_SYNTAX}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ConfigError(f"--grid {text!r}: {', '.join(repeated)} given more than once")
    return Axis(name, values, text)


def _range_values(text: str, spec: str) -> tuple[str, ...]:
    match = _RANGE.fullmatch(spec)
    if match is None:
        raise ConfigError(f"--grid {text!r}: bad range {spec!r}; {_SYNTAX}")
    start, end = Decimal(match[1]), Decimal(match[2])
    if match[3] is None and ("." in match[1] or "." in match[2]):
        raise ConfigError(f"--grid {text!r}: a decimal range needs a step (START..END:STEP)")
    step = Decimal(match[3] or 1)
    if step <= 0:
        raise ConfigError(f"--grid {text!r}: step must be > 0, was {match[3]}")
    if end < start:
        raise ConfigError(f"--grid {text!r}: END {match[2]} is below START {match[1]}")
    count = int((end - start) // step) + 1
    if count > MAX_POINTS:
        raise ConfigError(f"--grid {text!r}: {count:,} values, more than {MAX_POINTS:,}")
    exponent = Decimal(1).scaleb(min(_exponent(d) for d in (start, end, step)))
    return tuple(str((start + i * step).quantize(exponent)) for i in range(count))


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the regex admits digits only
    return min(exponent, 0)


def expand(axes: Sequence[Axis]) -> list[dict[str, str]]:
    """Every point of the grid, in product order (the first axis varies slowest).

    Raises:
        ConfigError: an axis is given twice, or the grid has more than ``MAX_POINTS`` points.
    """
    names = [a.name for a in axes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--grid {', '.join(twice)}: given more than once")
    size = 1
    for axis in axes:
        size *= len(axis.values)
    if size > MAX_POINTS:
        raise ConfigError(f"--grid: {size:,} points, more than {MAX_POINTS:,}")
    return [dict(zip(names, point, strict=True)) for point in _product(axes)]


def _product(axes: Sequence[Axis]) -> Iterable[tuple[str, ...]]:
    return itertools.product(*(a.values for a in axes))


def check_names(
    spec: registry.StrategySpec, axes: Sequence[Axis], fixed: Mapping[str, str]
) -> None:
    """Every grid axis and ``--param`` is a parameter of the strategy, and none is both.

    Raises:
        ConfigError: the first unknown or doubly given name, with the strategy's parameters.
    """
    known = list(spec.params.model_fields)
    for flag, names in (("--grid", [a.name for a in axes]), ("--param", list(fixed))):
        for name in names:
            if name not in known:
                raise ConfigError(
                    f"{flag} {name}: not a parameter of strategy {spec.name}; its parameters:"
                    f" {', '.join(known)}"
                )
    both = sorted(set(fixed) & {a.name for a in axes})
    if both:
        raise ConfigError(f"--param {', '.join(both)}: also a --grid axis; give it once")


def check_objective(name: str) -> None:
    """Raises ConfigError naming the known objectives when ``name`` is not one."""
    if name not in OBJECTIVES:
        raise ConfigError(f"--objective {name!r}: expected one of {', '.join(OBJECTIVES)}")


def validate_points(
    spec: registry.StrategySpec, points: Sequence[dict[str, str]], fixed: Mapping[str, str]
) -> tuple[list[dict[str, str]], list[Row]]:
    """Split the points into those the strategy's params model accepts (merged with the
    fixed params, still as text) and ``invalid`` rows saying why the others are not."""
    valid: list[dict[str, str]] = []
    invalid: list[Row] = []
    for point in points:
        try:
            registry.parse_params(spec, {**fixed, **point}, source="grid")
        except ConfigError as exc:
            reason = str(exc).removeprefix(f"strategy {spec.name}: ")
            invalid.append(Row(point, "invalid", reason))
        else:
            valid.append(point)
    return valid, invalid


def rank(rows: Iterable[Row], objective: str, axes: Sequence[Axis]) -> list[Row]:
    """The rows best first (see the module docstring); the order depends on the rows only."""
    sign = 1 if objective in LOWER_IS_BETTER else -1
    names = [a.name for a in axes]

    def key(row: Row) -> tuple[Any, ...]:
        params = tuple(_param_key(row.grid[n]) for n in names)
        value = None if row.metrics is None else row.metrics.get(objective)
        if row.status != "ok":
            return (2 if row.status == "strategy_error" else 3, 0, params)
        if value is None:
            return (1, 0, params)
        return (0, sign * Decimal(str(value)), params)

    return sorted(rows, key=key)


def _param_key(value: str) -> tuple[int, Decimal | str]:
    try:
        return (0, Decimal(value))
    except InvalidOperation:
        return (1, value)


def csv_columns(axes: Sequence[Axis], fixed: Mapping[str, str]) -> list[str]:
    """``rank``, one column per grid axis then per fixed parameter, ``status``, every
    metric, ``detail``."""
    metrics = [f.name for f in fields(Metrics)]
    return ["rank", *(a.name for a in axes), *sorted(fixed), "status", *metrics, "detail"]


def write_csv(
    path: Path, rows: Sequence[Row], axes: Sequence[Axis], fixed: Mapping[str, str]
) -> None:
    """``optimize.csv``: every ranked row; floats as ``repr``, a missing value empty."""
    columns = csv_columns(axes, fixed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for number, row in enumerate(rows, 1):
            cells = {"rank": number, **fixed, **row.grid, "status": row.status}
            cells.update(row.metrics or {})
            cells["detail"] = row.detail
            writer.writerow([format_value(cells.get(c)) for c in columns])


def format_value(value: object) -> str:
    """A cell: ``repr`` of a float (plain float, never numpy's), '' for None."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(float(value))
    return str(value)


def manifest(
    rows: Sequence[Row], axes: Sequence[Axis], objective: str, context: Mapping[str, Any]
) -> str:
    """``optimize.json``: the grid, objective, ``context`` (strategy, fixed params, data file
    and SHA-256, backtest options, engine version), the counts and the best row."""
    ok = [r for r in rows if r.status == "ok"]
    best = ok[0] if ok and ok[0].metrics is not None else None
    payload = {
        **context,
        "objective": objective,
        "direction": "min" if objective in LOWER_IS_BETTER else "max",
        "grid": [{"name": a.name, "spec": a.text, "values": list(a.values)} for a in axes],
        "points": len(rows),
        "ok": len(ok),
        "invalid": sum(r.status == "invalid" for r in rows),
        "strategy_errors": sum(r.status == "strategy_error" for r in rows),
        "best": None
        if best is None
        else {"params": dict(best.grid), objective: _plain(best.metrics, objective)},
    }
    return json.dumps(payload, indent=2) + "\n"


def _plain(metrics: Mapping[str, Any] | None, name: str) -> Any:
    value = None if metrics is None else metrics.get(name)
    return float(value) if isinstance(value, float) else value


_SHOWN = ("total_return", "sharpe", "daily_sharpe", "max_drawdown", "profit_factor", "trades")


def render_table(
    rows: Sequence[Row], axes: Sequence[Axis], objective: str, out: IO[str], top: int = 10
) -> None:
    """The ``top`` best rows as an aligned text table: rank, parameters, the objective and a
    few headline metrics, status."""
    metrics = [objective, *(m for m in _SHOWN if m != objective)]
    header = ["#", *(a.name for a in axes), *metrics, "status"]
    body = [
        [str(n), *(row.grid[a.name] for a in axes), *(_short(row, m) for m in metrics), row.status]
        for n, row in enumerate(rows[:top], 1)
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    for line in [header, *body]:
        out.write("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) + "\n")


def _short(row: Row, metric: str) -> str:
    value = None if row.metrics is None else row.metrics.get(metric)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
