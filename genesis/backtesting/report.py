"""One self-contained HTML report of a run directory (SPEC BT-6).

``build_report`` reads whatever a run directory holds and renders one page:

* a backtest's ``metrics.json``, ``equity.csv``, ``trades.csv`` (``rundir.read_run``):
  the metrics table (per-bar and daily figures side by side), equity, drawdown,
  monthly returns (UTC months) and the trades' entries and exits;
* ``optimize.csv`` / ``optimize.json``: a heatmap of the objective over the grid's
  first two axes (the best value over any other axes);
* ``walkforward.csv`` / ``walkforward_equity.csv`` / ``walkforward.json``: each test
  window's out-of-sample return and the stitched curve;
* ``montecarlo.json``: the equity fan (percentile bands) and its percentiles.

The page inlines plotly.js once (``plotly.offline.get_plotlyjs``), so it opens with
no network. A run directory records no price series, so trade markers sit at their
own fill prices; with ``bars`` (the run's ``--data`` file) the bars' closes are drawn
under them. Long curves are cut to at most ``MAX_POINTS`` points for the browser,
keeping each bucket's first, minimum, maximum and last point (the page says so).
"""

from __future__ import annotations

import csv
import html
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from genesis.backtesting.rundir import EQUITY, METRICS, TRADES, RunFiles, read_run
from genesis.errors import ConfigError, DataError

__all__ = ["MAX_POINTS", "OUTPUT", "build_report", "downsample", "monthly_returns", "write_report"]

OUTPUT = "report.html"
MAX_POINTS = 5_000
OPTIMIZE_CSV, OPTIMIZE_JSON = "optimize.csv", "optimize.json"
WALKFORWARD_CSV, WALKFORWARD_JSON = "walkforward.csv", "walkforward.json"
WALKFORWARD_EQUITY = "walkforward_equity.csv"
MONTECARLO = "montecarlo.json"
# per-bar figure -> its daily counterpart (metrics.py computes both)
DAILY_PAIRS = {
    "annual_return": "daily_cagr",
    "sharpe": "daily_sharpe",
    "sortino": "daily_sortino",
    "calmar": "daily_calmar",
    "max_drawdown": "daily_max_drawdown",
    "periods_per_year": "days_per_year",
}
_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;
text-align:right;font-variant-numeric:tabular-nums}th:first-child,td:first-child{text-align:left}
.note{color:#666;font-size:.9em}section{margin-bottom:2em}"""


@dataclass(frozen=True, slots=True)
class Section:
    """One titled part of the page: an ``id`` for tests and links, and its HTML."""

    id: str
    title: str
    body: str


def write_report(run_dir: Path, out: Path | None = None, *, bars: Path | None = None) -> Path:
    """Render ``run_dir`` and write the page to ``out`` (default ``run_dir/report.html``)."""
    target = out if out is not None else run_dir / OUTPUT
    target.write_text(build_report(run_dir, bars=bars), encoding="utf-8")
    return target


def build_report(run_dir: Path, *, bars: Path | None = None) -> str:
    """The whole HTML page for ``run_dir``: one section per kind of file found.

    Raises:
        ConfigError: ``run_dir`` is not a directory, holds none of the files a report
            is made of, or holds part of a backtest's (``metrics.json`` without
            ``equity.csv``...).
        DataError: a file is there but unreadable (its name and line in the message).
    """
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run directory")
    sections: list[Section] = []
    if any((run_dir / name).exists() for name in (METRICS, EQUITY, TRADES)):
        sections += _backtest_sections(read_run(run_dir), bars)
    if (run_dir / OPTIMIZE_CSV).is_file():
        sections.append(_optimize_section(run_dir))
    if (run_dir / WALKFORWARD_CSV).is_file():
        sections.append(_walkforward_section(run_dir))
    if (run_dir / MONTECARLO).is_file():
        sections.append(_montecarlo_section(run_dir / MONTECARLO))
    if not sections:
        raise ConfigError(
            f"{run_dir}: nothing to report; expected a backtest's {METRICS}/{EQUITY}/{TRADES},"
            f" {OPTIMIZE_CSV}, {WALKFORWARD_CSV} or {MONTECARLO}"
        )
    return _page(run_dir, sections)


# --- page ------------------------------------------------------------------------------


def _page(run_dir: Path, sections: Sequence[Section]) -> str:
    from plotly.offline import get_plotlyjs

    body = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections
    )
    nav = " · ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Genesis report: {html.escape(run_dir.name)}</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>Genesis report: {html.escape(str(run_dir))}</h1><p>{nav}</p>"
        f'<p class="note">Curves longer than {MAX_POINTS:,} points are cut to {MAX_POINTS:,}'
        " for the browser, keeping each bucket's first, lowest, highest and last point;"
        " tables are exact. Times are UTC.</p>"
        f"{body}</body></html>"
    )


def _figure(fig: Any) -> str:
    """A plotly figure as a ``<div>`` and its script; plotly.js is in the page's head."""
    fig.update_layout(margin={"l": 60, "r": 20, "t": 40, "b": 40}, template="plotly_white")
    text: str = fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    """A value as the file wrote it: floats in full (``repr``), ``None`` as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- backtest --------------------------------------------------------------------------


def _backtest_sections(run: RunFiles, bars: Path | None) -> list[Section]:
    metrics = json.loads((run.directory / METRICS).read_text(encoding="utf-8"))
    times = run.times_ns.astype("datetime64[ns]")
    equity = run.equity
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    return [
        Section("metrics", "Metrics", _metrics_table(metrics)),
        Section("equity", "Equity", _line(times, equity, "equity")),
        Section("drawdown", "Drawdown", _line(times, drawdown, "drawdown", fill=True)),
        Section("monthly", "Monthly returns", _monthly(run)),
        Section("trades", "Trades", _trades(run.directory / TRADES, bars)),
    ]


def metrics_rows(metrics: Mapping[str, object]) -> list[tuple[str, object, object]]:
    """(metric, per-bar value, daily value) rows: each daily figure beside its per-bar one."""
    daily = set(DAILY_PAIRS.values())
    rows = []
    for key, value in metrics.items():
        if key in daily:
            continue
        pair = DAILY_PAIRS.get(key)
        rows.append((key, value, metrics.get(pair) if pair else None))
    unpaired = [b for a, b in DAILY_PAIRS.items() if b in metrics and a not in metrics]
    rows += [(k, None, metrics[k]) for k in unpaired]
    return rows


def _metrics_table(metrics: Mapping[str, object]) -> str:
    rows = metrics_rows(metrics)
    return _table(("metric", "per bar / run", "daily (UTC days)"), rows, "metrics-table") + (
        '<p class="note">As in metrics.json (docs/metrics.md): the daily column is the same'
        " figure on the equity's last value each UTC day, annualised with 365 days.</p>"
    )


def downsample(
    x: npt.NDArray[Any], y: npt.NDArray[np.float64], limit: int = MAX_POINTS
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """At most ``limit`` points of (x, y): per bucket its first, min, max and last point.

    The extremes survive (a drawdown's trough is never cut away); points stay in x order.
    """
    if y.size <= limit:
        return x, y
    buckets = max(limit // 4, 1)
    edges = np.linspace(0, y.size, buckets + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue
        part = y[lo:hi]
        keep += [lo, lo + int(np.argmin(part)), lo + int(np.argmax(part)), hi - 1]
    index = np.unique(np.array(keep, dtype=np.int64))
    return x[index], y[index]


def _line(x: npt.NDArray[Any], y: npt.NDArray[np.float64], name: str, fill: bool = False) -> str:
    import plotly.graph_objects as go

    xs, ys = downsample(x, y)
    trace = go.Scatter(x=xs, y=ys, name=name, mode="lines", fill="tozeroy" if fill else None)
    note = f'<p class="note">{y.size:,} rows, {ys.size:,} plotted.</p>'
    return _figure(go.Figure(trace)) + note


def monthly_returns(run: RunFiles) -> list[tuple[str, float]]:
    """(``YYYY-MM``, return) per UTC month: last equity of the month over the previous one's.

    The first month is measured from the starting cash, as the metrics measure returns.
    """
    months = run.times_ns.astype("datetime64[ns]").astype("datetime64[M]")
    last = np.flatnonzero(np.append(months[1:] != months[:-1], True))
    closes = np.concatenate(([float(run.initial_equity)], run.equity[last]))
    returns = closes[1:] / closes[:-1] - 1.0
    return [(str(m), float(r)) for m, r in zip(months[last], returns, strict=True)]


def _monthly(run: RunFiles) -> str:
    import plotly.graph_objects as go

    rows = monthly_returns(run)
    years = sorted({m[:4] for m, _ in rows})
    grid = [[None] * 12 for _ in years]
    for month, value in rows:
        grid[years.index(month[:4])][int(month[5:]) - 1] = value * 100  # type: ignore[call-overload]
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    fig = go.Figure(
        go.Heatmap(z=grid, x=names, y=years, colorscale="RdYlGn", zmid=0, colorbar={"title": "%"},
                   text=_labels(grid, "{:.2f}%"), texttemplate="%{text}", hoverongaps=False)
    )  # fmt: skip
    fig.update_yaxes(type="category")
    table = _table(("month", "return"), rows, "monthly-table")
    return _figure(fig) + table


def _labels(grid: Sequence[Sequence[float | None]], fmt: str) -> list[list[str]]:
    """Cell texts of a heatmap: empty where the cell has no value (not a bare "%")."""
    return [["" if v is None else fmt.format(v) for v in row] for row in grid]


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None


def _column(rows: Sequence[Mapping[str, str]], name: str, path: Path) -> list[str]:
    if rows and name not in rows[0]:
        raise DataError(f"{path}:1: expected a `{name}` column")
    return [row[name] for row in rows]


def _times(texts: Sequence[str], path: Path) -> npt.NDArray[Any]:
    try:
        return np.array([t.rstrip("Z") for t in texts], dtype="datetime64[ns]")
    except ValueError as exc:
        raise DataError(f"{path}: a timestamp is not ISO 8601 ({exc})") from None


def _floats(texts: Sequence[str], path: Path, name: str) -> npt.NDArray[np.float64]:
    try:
        return np.array([float(t) if t != "" else np.nan for t in texts], dtype=np.float64)
    except ValueError:
        raise DataError(f"{path}: a `{name}` value is not a number") from None


def _trades(path: Path, bars: Path | None) -> str:
    import plotly.graph_objects as go

    rows = _read_csv(path)
    fig = go.Figure()
    note = "Markers at the trades' own fill prices (a run directory records no price series)."
    if bars is not None:
        bx, by = _bar_closes(bars)
        bx, by = downsample(bx, by)
        fig.add_trace(go.Scatter(x=bx, y=by, name="close", mode="lines", line={"width": 1}))
        note = f"Closes from {bars.name} (bar close time) under the trades' fill prices."
    for side, symbol in (("LONG", "triangle-up"), ("SHORT", "triangle-down")):
        chosen = [r for r in rows if r.get("side") == side]
        if not chosen:
            continue
        fig.add_trace(
            go.Scatter(
                x=_times(_column(chosen, "entry_time", path), path),
                y=_floats(_column(chosen, "entry_price", path), path, "entry_price"),
                name=f"{side.lower()} entry", mode="markers",
                marker={"symbol": symbol, "size": 8, "color": "#2a9d8f"},
            )
        )  # fmt: skip
    if rows:
        fig.add_trace(
            go.Scatter(
                x=_times(_column(rows, "exit_time", path), path),
                y=_floats(_column(rows, "exit_price", path), path, "exit_price"),
                name="exit", mode="markers", marker={"symbol": "x", "size": 7, "color": "#e76f51"},
            )
        )  # fmt: skip
    return _figure(fig) + f'<p class="note">{len(rows):,} closed trades. {html.escape(note)}</p>'


def _bar_closes(path: Path) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    from genesis.data.loaders import read_bars

    if not path.is_file():
        raise ConfigError(f"--bars {path}: no such file")
    stamps, closes = [], []
    for bar in read_bars(path, "bars"):
        stamps.append(bar.ts_event)
        closes.append(float(bar.close))
    return np.array(stamps, dtype="datetime64[ns]"), np.array(closes, dtype=np.float64)


# --- optimize, walk-forward, Monte Carlo ------------------------------------------------


def _load_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(loaded, dict):
        raise DataError(f"{path}: expected a JSON object")
    return loaded


def _optimize_section(run_dir: Path) -> Section:
    import plotly.graph_objects as go

    path = run_dir / OPTIMIZE_CSV
    meta_path = run_dir / OPTIMIZE_JSON
    if not meta_path.is_file():
        raise ConfigError(f"{run_dir}: {OPTIMIZE_CSV} without {OPTIMIZE_JSON} (the grid)")
    meta = _load_json(meta_path)
    objective, direction = str(meta.get("objective")), str(meta.get("direction", "max"))
    axes = [str(a["name"]) for a in meta.get("grid", []) if len(a.get("values", [])) > 1]
    rows = [r for r in _read_csv(path) if r.get("status") == "ok" and r.get(objective)]
    if not axes or not rows:
        return Section("optimize", "Optimisation", "<p>No valid grid points to plot.</p>")
    x_name = axes[0]
    y_name = axes[1] if len(axes) > 1 else None
    best = max if direction == "max" else min
    cells: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row[x_name], row[y_name] if y_name else "")
        value = float(row[objective])
        cells[key] = best(cells.get(key, value), value)
    xs = sorted({k[0] for k in cells}, key=Decimal)
    ys = sorted({k[1] for k in cells}, key=lambda v: Decimal(v) if v else Decimal(0))
    z = [[cells.get((x, y)) for x in xs] for y in ys]
    fig = go.Figure(
        go.Heatmap(z=z, x=xs, y=ys, colorscale="Viridis", colorbar={"title": objective},
                   text=_labels(z, "{:.4g}"), texttemplate="%{text}", hoverongaps=False)
    )  # fmt: skip
    fig.update_xaxes(title=x_name, type="category")
    fig.update_yaxes(title=y_name or "", type="category")
    others = [a for a in axes if a not in (x_name, y_name)]
    note = f"{objective} ({direction}) over {x_name}" + (f" × {y_name}" if y_name else "")
    if others:
        note += f"; each cell the {direction} over {', '.join(others)}"
    top = [(r["rank"], *(r[a] for a in axes), r[objective]) for r in rows[:10]]
    body = (
        _figure(fig)
        + f'<p class="note">{html.escape(note)}; {len(rows)} valid points.</p>'
        + _table(("rank", *axes, objective), top, "optimize-table")
    )
    return Section("optimize", "Optimisation", body)


def _walkforward_section(run_dir: Path) -> Section:
    import plotly.graph_objects as go

    path = run_dir / WALKFORWARD_CSV
    rows = _read_csv(path)
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    labels = [f"{r['window']}: {r['test_start'][:10]}" for r in ok]
    returns = _floats(_column(ok, "oos_total_return", path), path, "oos_total_return") * 100
    fig = go.Figure(go.Bar(x=labels, y=returns, name="out-of-sample return %"))
    fig.update_yaxes(title="OOS return %")
    body = _figure(fig)
    equity_path = run_dir / WALKFORWARD_EQUITY
    if equity_path.is_file():
        eq_rows = _read_csv(equity_path)
        x = _times(_column(eq_rows, "timestamp", equity_path), equity_path)
        y = _floats(_column(eq_rows, "equity", equity_path), equity_path, "equity")
        body += "<h3>Stitched out-of-sample equity</h3>" + _line(x, y, "stitched equity")
    json_path = run_dir / WALKFORWARD_JSON
    if json_path.is_file():
        stitched = _load_json(json_path).get("stitched")
        if isinstance(stitched, dict):
            body += "<h3>Stitched metrics</h3>" + _table(
                ("metric", "per bar / run", "daily (UTC days)"),
                metrics_rows(stitched),
                "walkforward-metrics",
            )
    params = [
        c
        for c in (rows[0] if rows else {})
        if c not in _WF_FIXED and not c.startswith(("oos_", "is_"))
    ]
    table = [(r["window"], r["test_start"], r["test_end"], *(r[p] for p in params),
              r.get("oos_total_return", "")) for r in rows]  # fmt: skip
    body += _table(("window", "test start", "test end", *params, "oos_total_return"), table,
                   "walkforward-table")  # fmt: skip
    return Section("walkforward", "Walk-forward", body)


_WF_FIXED = {"window", "train_start", "train_end", "test_start", "test_end", "status"}


def _montecarlo_section(path: Path) -> Section:
    import plotly.graph_objects as go

    mc = _load_json(path)
    try:
        percentiles = [float(p) for p in mc["percentiles"]]
        steps = list(mc["fan_steps"])
        fan = [list(map(float, band)) for band in mc["fan"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: expected percentiles, fan_steps and fan ({exc})") from None
    if len(fan) != len(percentiles) or any(len(b) != len(steps) for b in fan):
        raise DataError(f"{path}: fan has {len(fan)} bands for {len(percentiles)} percentiles")
    fig = go.Figure()
    for i, (p, band) in enumerate(zip(percentiles, fan, strict=True)):
        fig.add_trace(
            go.Scatter(x=steps, y=band, name=f"{p:g}%", mode="lines",
                       fill="tonexty" if i else None, line={"width": 2 if p == 50 else 1})
        )  # fmt: skip
    fig.update_xaxes(title=f"step ({mc.get('series', '')})")
    fig.update_yaxes(title="equity")
    rows = [
        ("final equity", *mc.get("final_equity", [])),
        ("max drawdown", *mc.get("max_drawdown", [])),
        ("sharpe", *mc.get("sharpe", [])),
    ]
    note = (
        f"{mc.get('method')} resampling, {mc.get('paths')} paths, seed {mc.get('seed')};"
        f" probability of a {float(mc.get('ruin_threshold', 0)) * 100:g}% drawdown:"
        f" {float(mc.get('ruin_probability', 0)) * 100:.2f}%."
    )
    body = (
        _figure(fig)
        + f'<p class="note">{html.escape(note)}</p>'
        + _table(("", *(f"{p:g}%" for p in percentiles)), rows, "montecarlo-table")
    )
    return Section("montecarlo", "Monte Carlo", body)
