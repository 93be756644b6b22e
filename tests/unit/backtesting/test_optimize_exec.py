"""Where a search's runs execute: a run's files come back as bytes, equal to a kept run's."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.backtesting.optimize_exec import (
    Dataset,
    Task,
    execute,
    run_task,
    run_task_files,
    sha256_of,
)
from genesis.backtesting.runner import BacktestConfig
from genesis.core.instruments import load_exchange_info

MINUTE_NS = 60_000_000_000
DAY_NS = 1440 * MINUTE_NS
FIRST_OPEN_NS = 1_640_991_660_000_000_000  # 2021-12-31T23:01:00Z, the month's first bar


@pytest.fixture(scope="module")
def task() -> Task:
    """sma_cross 10/30 on the bundled month's first day (1,440 bars), 1 BTC, 10 bps."""
    path = resources.BTCUSDT_1M_BARS
    config = BacktestConfig(
        strategy="sma_cross",
        params={"fast": "10", "slow": "30", "quantity": "1"},
        instrument=load_exchange_info(resources.EXCHANGE_INFO).get("BTCUSDT"),
        cash=Decimal(1_000_000),
        fee_bps=Decimal(10),
        interval_ns=MINUTE_NS,
    )
    data = Dataset(str(path.resolve()), sha256_of(path), "BTCUSDT", MINUTE_NS)
    return Task({"fast": "10"}, config, data, span=(FIRST_OPEN_NS, FIRST_OPEN_NS + DAY_NS))


def test_files_come_back_with_the_in_memory_row(task: Task) -> None:
    """run_task_files' row is run_task's; its metrics.json holds the same figures."""
    row, files = run_task_files(task)
    assert row == run_task(task)
    assert {"trades.csv", "equity.csv", "metrics.json"} <= set(files)
    metrics = json.loads(files["metrics.json"])
    assert row.metrics is not None
    assert (metrics["trades"], metrics["final_equity"]) == (
        row.metrics["trades"],
        row.metrics["final_equity"],
    )
    assert len(files["equity.csv"].splitlines()) == 1 + 1440  # header, one row per bar


def test_files_equal_a_kept_runs_and_leave_no_temporary_directory(
    task: Task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes are those --keep-runs writes to disk; the worker's temporary copy is gone."""
    kept = tmp_path / "kept"
    run_task(replace(task, keep_dir=str(kept)))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    _, files = run_task_files(task)
    assert files == {p.name: p.read_bytes() for p in kept.iterdir()}
    assert list(scratch.iterdir()) == []


def test_execute_runs_the_given_function_on_processes(task: Task) -> None:
    """execute(..., run_task_files) on two processes returns each task's row and files."""
    tasks = [task, replace(task, grid={"fast": "5"}, config=_params(task.config, fast="5"))]
    done: list[int] = []
    results = execute(tasks, run_task_files, workers=2, scheduler=None, done=done.append)
    assert done == [1, 2]
    by_fast = {row.grid["fast"]: (row, files) for row, files in results}
    assert sorted(by_fast) == ["10", "5"]
    assert by_fast["10"] == run_task_files(task)


def _params(config: BacktestConfig, **changes: str) -> BacktestConfig:
    return replace(config, params={**config.params, **changes})
