"""Where a search's grid points run: this process, local processes, or a Dask cluster.

Every point is one ``Task`` (its grid values, the full ``BacktestConfig``, the
data file) handed to ``run_task``, a module-level function so that a process
pool or a Dask worker can import it by name. ``run_task`` runs the ordinary
backtest engine (``runner.run_backtest``) in memory, writing files only when
the task names a directory for them (``--keep-runs``).

The data file is parsed once per process and kept (``dataset_bars``): a
worker's later runs reuse the same immutable ``Bar`` tuple instead of reading
the CSV again. Each process keeps one dataset, so memory stays one copy of the
bars per worker. A worker checks the file's SHA-256 against the one the
search recorded before parsing it: a Dask worker on another machine must see
the same file at the same path, and one that does not fails loudly rather
than search other data.

A run whose files the caller needs (walk-forward's out-of-sample runs) goes
through ``run_task_files`` instead: it writes the backtest's files in a
temporary directory of the worker and returns their bytes with the row, so the
caller writes them where it wants, on its own machine, whichever executor ran
the task.

Results come back in completion order, which differs between executors and
runs; ``optimize.rank`` makes the table independent of it.
"""

from __future__ import annotations

import bisect
import hashlib
import socket
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from genesis.backtesting.metrics import Metrics
from genesis.backtesting.optimize import Row
from genesis.backtesting.runner import BacktestConfig, run_backtest
from genesis.core.events import Bar
from genesis.data.barcache import cache_dir, cached_bars
from genesis.errors import ConfigError, DataError

__all__ = [
    "Dataset",
    "Task",
    "dataset_bars",
    "execute",
    "run_task",
    "run_task_files",
    "sha256_of",
    "span_bars",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Dataset:
    """A bars file as a search pins it: where it is, its SHA-256, and how to read it."""

    path: str
    sha256: str
    symbol: str
    interval_ns: int


@dataclass(frozen=True, slots=True)
class Task:
    """One grid point to run: ``config.params`` holds the fixed and the grid values."""

    grid: dict[str, str]
    config: BacktestConfig
    data: Dataset
    keep_dir: str | None = None
    # [start, end) in ns of ts_open: run only the dataset's bars in that span (walk-forward)
    span: tuple[int, int] | None = None


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_CACHE: dict[Dataset, tuple[Bar, ...]] = {}


def dataset_bars(data: Dataset) -> tuple[Bar, ...]:
    """The file's bars, parsed on this process's first call and kept for the next ones.

    Raises:
        DataError: the file is missing here or differs from the search's (SHA-256), or a
            bar is invalid.
    """
    bars = _CACHE.get(data)
    if bars is None:
        _check_file(data)
        _CACHE.clear()  # one dataset per process
        bars = tuple(cached_bars(Path(data.path), data.symbol, data.interval_ns, cache_dir()))
        _CACHE[data] = bars
    return bars


def _check_file(data: Dataset) -> None:
    path = Path(data.path)
    where = f"on {socket.gethostname()}"
    if not path.is_file():
        raise DataError(
            f"--data {path}: no such file {where}; every worker must see the data file at"
            " the same path"
        )
    found = sha256_of(path)
    if found != data.sha256:
        raise DataError(
            f"--data {path}: the file {where} differs from the one the search started with"
            f" (sha256 {found[:12]}…, expected {data.sha256[:12]}…)"
        )


def run_task(task: Task) -> Row:
    """Run one grid point through the backtest engine; its row (``ok`` or
    ``strategy_error``) with every metric as a plain Python value."""
    return _run(task, None if task.keep_dir is None else Path(task.keep_dir))


def run_task_files(task: Task) -> tuple[Row, dict[str, bytes]]:
    """Run one task with its backtest files written to a temporary directory here (the
    task's ``keep_dir`` is ignored); its row and each file's name and bytes."""
    with tempfile.TemporaryDirectory(prefix="genesis-run-") as tmp:
        row = _run(task, Path(tmp))
        files = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}
    return row, files


def _run(task: Task, out: Path | None) -> Row:
    result = run_backtest(task.config, span_bars(dataset_bars(task.data), task.span), out)
    metrics = {f.name: _plain(getattr(result.metrics, f.name)) for f in fields(Metrics)}
    if result.strategy_errors:
        return Row(task.grid, "strategy_error", "; ".join(result.strategy_errors), metrics)
    return Row(task.grid, "ok", "", metrics)


def span_bars(bars: tuple[Bar, ...], span: tuple[int, int] | None) -> tuple[Bar, ...]:
    """The bars opening in ``[start, end)`` (all of them when ``span`` is None); the bars
    are sorted by ``ts_open``, so this is two binary searches and a slice."""
    if span is None:
        return bars
    lo = bisect.bisect_left(bars, span[0], key=_ts_open)
    hi = bisect.bisect_left(bars, span[1], key=_ts_open)
    return bars[lo:hi]


def _ts_open(bar: Bar) -> int:
    return bar.ts_open


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, float) else value  # never a numpy scalar


def execute(
    tasks: Sequence[Task],
    run: Callable[[Task], T],
    *,
    workers: int,
    scheduler: str | None,
    done: Callable[[int], None],
) -> list[T]:
    """Run every task with ``run`` (``run_task`` or ``run_task_files``: module-level, so
    that a worker imports it by name): on the Dask cluster at ``scheduler`` when given,
    else on ``workers`` local processes (in this process when ``workers`` is 1).
    ``done(n)`` is called after each finished run with the number finished so far.
    Results come in completion order.

    Raises:
        ConfigError: dask is not installed, or the scheduler cannot be reached.
        GenesisError: a run failed on bad input (raised as the worker raised it).
    """
    if scheduler is not None:
        return _on_dask(tasks, scheduler, done, run)
    if workers <= 1 or len(tasks) <= 1:
        rows: list[T] = []
        for task in tasks:
            rows.append(run(task))
            done(len(rows))
        return rows
    return _on_processes(tasks, min(workers, len(tasks)), done, run)


def _on_processes(
    tasks: Sequence[Task], workers: int, done: Callable[[int], None], run: Callable[[Task], T]
) -> list[T]:
    rows: list[T] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        try:
            for future in as_completed(futures):
                rows.append(future.result())
                done(len(rows))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return rows


def _on_dask(
    tasks: Sequence[Task], address: str, done: Callable[[int], None], run: Callable[[Task], T]
) -> list[T]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError(
            "--scheduler needs dask.distributed, which is not installed:"
            " pip install 'genesis[research]'"
        ) from None
    try:
        client = Client(address, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"--scheduler {address}: cannot connect ({exc})") from None
    rows: list[T] = []
    with client:
        futures = client.map(run, list(tasks), pure=False)
        for future in dask_completed(futures):  # type: ignore[no-untyped-call]
            rows.append(future.result())
            done(len(rows))
    return rows
