"""``python -m genesis walkforward`` end to end on the bundled BTCUSDT month with sma_cross:
golden windows and stitched equity, rolling vs anchored, workers 1 vs 2, bad input exit 2."""

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


def _final(out: Path) -> str:
    payload = json.loads((out / "walkforward.json").read_text("utf-8"))
    return str(payload["stitched"]["final_equity"])


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


def test_anchored_differs(rolling: Path, tmp_path: Path) -> None:
    anchored = _run(tmp_path, "--anchored")
    assert _chosen(anchored) == [("5", "15")] * 7
    assert _final(anchored) == "986886.624176"
    assert _final(anchored) != _final(rolling)


def test_two_workers_same_result(rolling: Path, tmp_path: Path) -> None:
    two = _run(tmp_path, "--workers", "2")
    for name in ("walkforward.csv", "walkforward_equity.csv"):
        assert (two / name).read_bytes() == (rolling / name).read_bytes()


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
