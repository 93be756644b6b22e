"""``python -m genesis walkforward`` end to end on the bundled BTCUSDT month with sma_cross:
golden windows and stitched metrics, rolling vs anchored, the same files in process, on two
processes and on a Dask LocalCluster, bad input exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main
from genesis.backtesting.walkforward import make_windows, parse_duration
from genesis.errors import ConfigError

BASE = [
    "walkforward", "--strategy", "sma_cross", "--data", str(resources.BTCUSDT_1M_BARS),
    "--param", "quantity=1", "--grid", "fast=5,10", "--grid", "slow=15,30",
    "--objective", "total_return", "--quiet",
]  # fmt: skip
WINDOWS = ["--train", "3d", "--test", "4d"]


def _run(out: Path, *extra: str) -> Path:
    assert main([*BASE, *WINDOWS, "--out", str(out), *extra]) == 0
    return out


def _chosen(out: Path) -> list[tuple[str, str]]:
    rows = csv.DictReader((out / "walkforward.csv").open(encoding="utf-8"))
    return [(r["fast"], r["slow"]) for r in rows]


def _stitched(out: Path) -> dict[str, object]:
    payload = json.loads((out / "walkforward.json").read_text("utf-8"))
    stitched: dict[str, object] = payload["stitched"]
    return stitched


def _final(out: Path) -> str:
    return str(_stitched(out)["final_equity"])


def _files(out: Path) -> dict[str, bytes]:
    """Every file the run wrote, by its path under ``out``."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rolling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("rolling"), "--workers", "1")


def test_golden_rolling(rolling: Path) -> None:
    """Seven 3-day/4-day windows; the chosen params per window and the stitched equity."""
    assert _chosen(rolling) == [("5", "15")] * 3 + [("5", "30"), ("10", "15")] + [("5", "15")] * 2
    assert _final(rolling) == "986663.181907"
    equity = (rolling / "walkforward_equity.csv").read_text("utf-8").splitlines()
    assert equity[0] == "timestamp,equity"
    assert len(equity) - 1 == 7 * 4 * 1440  # one point per test bar, no gaps in the month
    assert float(equity[-1].split(",")[1]) == pytest.approx(986663.181907, rel=1e-9)
    first = next(csv.DictReader((rolling / "walkforward.csv").open(encoding="utf-8")))
    assert (first["train_start"], first["test_start"], first["test_end"]) == (
        "2021-12-31T23:01:00Z",
        "2022-01-03T23:01:00Z",
        "2022-01-07T23:01:00Z",
    )
    assert (rolling / "windows" / "006" / "trades.csv").is_file()


def test_golden_stitched_metrics(rolling: Path) -> None:
    """The chained out-of-sample curve's metrics, per bar and daily, pinned."""
    stitched = _stitched(rolling)
    assert {k: stitched[k] for k in ("trades", "max_drawdown_duration", "days", "fees")} == {
        "trades": 1508,
        "max_drawdown_duration": 2341800,
        "days": 29,
        "fees": "0.000000",
    }
    assert stitched["total_return"] == pytest.approx(-0.013336818092761327, rel=1e-12)
    assert stitched["sharpe"] == pytest.approx(-8.991747510914053, rel=1e-12)
    assert stitched["max_drawdown"] == pytest.approx(-0.01632197830387816, rel=1e-12)
    assert stitched["win_rate"] == pytest.approx(0.33819628647214856, rel=1e-12)
    assert stitched["profit_factor"] == pytest.approx(0.795369024736228, rel=1e-12)
    assert stitched["daily_sharpe"] == pytest.approx(-10.639889400703598, rel=1e-12)
    assert stitched["daily_max_drawdown"] == pytest.approx(-0.014067666087912545, rel=1e-12)


def test_anchored_differs(rolling: Path, tmp_path: Path) -> None:
    anchored = _run(tmp_path, "--anchored")
    assert _chosen(anchored) == [("5", "15")] * 7
    assert _final(anchored) == "986886.624176"
    assert _final(anchored) != _final(rolling)


def test_two_workers_same_result(rolling: Path, tmp_path: Path) -> None:
    """--workers 2: every file byte-identical, each window's backtest files included."""
    assert _files(_run(tmp_path, "--workers", "2")) == _files(rolling)


def test_dask_local_cluster_same_result(rolling: Path, tmp_path: Path) -> None:
    """On a LocalCluster of two worker processes: the same windows, chosen parameters,
    stitched metrics and files, byte for byte."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed not installed (pip install 'genesis[research]')"
    )
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        on_dask = _run(tmp_path, "--scheduler", cluster.scheduler_address)
    assert _chosen(on_dask) == _chosen(rolling)
    assert _stitched(on_dask) == _stitched(rolling)
    files = _files(on_dask)
    assert "windows/006/equity.csv" in files
    assert files == _files(rolling)


def test_unreachable_scheduler_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scheduler nobody listens on is one line naming it, exit 2, before any window."""
    pytest.importorskip("distributed")
    address = "tcp://127.0.0.1:9"  # discard port: nothing listens there
    assert main([*BASE, *WINDOWS, "--out", str(tmp_path), "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert f"--scheduler {address}: cannot connect" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "walkforward.csv").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train", "30d", "--test", "7d"], "do not fit in the data"),
        (["--train", "3x", "--test", "4d"], "--train '3x': expected a whole number"),
        (["--train", "3d", "--test", "0d"], "--test '0d'"),
        (["--train", "3d", "--test", "4d", "--step=-1d"], "--step '-1d'"),
    ],
)
def test_bad_input_exits_2(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *extra, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_windows_and_durations() -> None:
    day = parse_duration("--test", "1d")
    assert day == 86_400 * 10**9
    assert parse_duration("--x", "2w") == 14 * day
    rolling = make_windows(0, 10 * day, train=3 * day, test=2 * day, step=2 * day, anchored=False)
    assert [(w.train_start // day, w.test_end // day) for w in rolling] == [(0, 5), (2, 7), (4, 9)]
    anchored = make_windows(0, 10 * day, train=3 * day, test=2 * day, step=2 * day, anchored=True)
    assert [(w.train_start, w.train_end // day) for w in anchored] == [(0, 3), (0, 5), (0, 7)]
    with pytest.raises(ConfigError, match="do not fit"):
        make_windows(0, day, train=day, test=day, step=day, anchored=False)
