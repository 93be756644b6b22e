"""``python -m genesis optimize`` end to end on the bundled BTCUSDT month with sma_cross:
the golden table, the same table on every executor, bad input as one line and exit 2."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
# the reference run of tests/e2e/test_backtest_cli.py, searched over fast and slow
BASE = [
    "optimize",
    "--strategy",
    "sma_cross",
    "--data",
    str(resources.BTCUSDT_1M_BARS),
    "--param",
    "quantity=1",
    "--cash",
    "1000000",
    "--fee-bps",
    "10",
]
SEARCH = [*BASE, "--grid", "fast=5..20:5", "--grid", "slow=20,30", "--quiet"]


def _search(out: Path, *extra: str) -> Path:
    assert main([*SEARCH, "--out", str(out), *extra]) == 0
    return out


def _rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "optimize.csv").open(encoding="utf-8")))


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _search(tmp_path_factory.mktemp("w1"), "--workers", "1")


def test_golden_best_row_and_objective(in_process: Path) -> None:
    """fast=20, slow=30 has the best per-bar Sharpe of the grid; its figures are pinned."""
    best = _rows(in_process)[0]
    assert (best["rank"], best["fast"], best["slow"], best["status"]) == ("1", "20", "30", "ok")
    assert best["sharpe"] == "-52.24694150977179"
    assert (best["trades"], best["final_equity"], best["fees"]) == (
        "962",
        "909688.523000",
        "78960.477000",
    )


def test_golden_ranking_and_the_invalid_point(in_process: Path) -> None:
    """All eight points in Sharpe order; fast=20, slow=20 is refused by the model, ranked last."""
    rows = _rows(in_process)
    assert [(r["fast"], r["slow"]) for r in rows] == [
        ("20", "30"), ("15", "30"), ("10", "30"), ("5", "30"),
        ("10", "20"), ("5", "20"), ("15", "20"), ("20", "20"),
    ]  # fmt: skip
    assert rows[-1]["status"] == "invalid"
    assert rows[-1]["sharpe"] == ""
    assert "fast (20) must be less than slow (20)" in rows[-1]["detail"]


def test_reference_point_equals_the_reference_backtest(in_process: Path) -> None:
    """The grid's fast=10, slow=30 row is the backtest's reference run (945 trades)."""
    row = next(r for r in _rows(in_process) if (r["fast"], r["slow"]) == ("10", "30"))
    assert (row["trades"], row["final_equity"], row["fees"]) == (
        "945",
        "902863.237500",
        "77769.262500",
    )
    assert row["sharpe"] == "-57.517413458641485"


def test_manifest_pins_what_reproduces_the_search(in_process: Path) -> None:
    """optimize.json: the grid, objective, data file's SHA-256, options and the best row."""
    doc = json.loads((in_process / "optimize.json").read_text())
    assert doc["grid"][0] == {
        "name": "fast",
        "spec": "fast=5..20:5",
        "values": ["5", "10", "15", "20"],
    }
    assert (doc["objective"], doc["direction"], doc["points"], doc["ok"], doc["invalid"]) == (
        "sharpe", "max", 8, 7, 1,
    )  # fmt: skip
    assert (
        doc["data"]["sha256"] == "783040b39fa8b96152c854b4d479516fef4858130f724c9ada6dd15d1860284e"
    )
    assert doc["params"] == {"quantity": "1"}
    assert doc["backtest"]["fee_bps"] == "10"
    assert doc["best"] == {"params": {"fast": "20", "slow": "30"}, "sharpe": -52.24694150977179}


def test_two_processes_give_the_same_files(in_process: Path, tmp_path: Path) -> None:
    """--workers 2 writes byte-identical optimize.csv and optimize.json."""
    out = _search(tmp_path, "--workers", "2")
    for name in ("optimize.csv", "optimize.json"):
        assert (out / name).read_bytes() == (in_process / name).read_bytes()


def test_dask_local_cluster_gives_the_same_files(in_process: Path, tmp_path: Path) -> None:
    """On a LocalCluster of two worker processes: byte-identical files."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed not installed (pip install 'genesis[research]')"
    )
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        out = _search(tmp_path, "--scheduler", cluster.scheduler_address)
    for name in ("optimize.csv", "optimize.json"):
        assert (out / name).read_bytes() == (in_process / name).read_bytes()


def test_keep_runs_writes_each_runs_backtest_files(tmp_path: Path) -> None:
    """--keep-runs leaves the backtest's own files per point; metrics.json agrees with the row."""
    out = tmp_path / "search"
    code = main([
        *BASE, "--grid", "fast=10", "--grid", "slow=30", "--quiet",
        "--workers", "1", "--keep-runs", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "runs" / "fast-10_slow-30" / "metrics.json").read_text())
    assert (metrics["trades"], metrics["final_equity"]) == (945, "902863.237500")
    assert len((out / "runs" / "fast-10_slow-30" / "trades.csv").read_text().splitlines()) == 946


def test_table_printed_best_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --quiet: a header, the rows by rank, and where the full table is."""
    code = main([*BASE, "--grid", "fast=10,20", "--grid", "slow=30",
                 "--workers", "1", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["#", "fast", "slow", "sharpe"]
    assert lines[1].split()[:4] == ["1", "20", "30", "-52.2469"]
    assert lines[2].split()[:4] == ["2", "10", "30", "-57.5174"]
    assert lines[3].startswith("2 points (2 ok, 0 not)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "sma_cross", "--grid", "fast=5..x"], "--grid 'fast=5..x': bad range"),
        (["--strategy", "sma_cross", "--grid", "fst=5,10"], "--grid fst: not a parameter"),
        (
            ["--strategy", "sma_cross", "--grid", "fast=5", "--param", "foo=1"],
            "--param foo: not a parameter",
        ),
        (
            ["--strategy", "sma_cross", "--grid", "fast=5", "--objective", "sharp"],
            "--objective 'sharp'",
        ),
        (["--strategy", "nope", "--grid", "fast=5"], "unknown strategy 'nope'"),
        (["--strategy", "sma_cross", "--grid", "fast=40,50"], "no valid parameter set"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    """As a real process: exit code 2, one line on stderr naming the problem, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "genesis", "optimize", *args, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"genesis optimize: error: {message}")
    assert not (tmp_path / "optimize.csv").exists()
