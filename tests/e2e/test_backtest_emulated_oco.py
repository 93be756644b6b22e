"""``python -m genesis backtest --capabilities ccxt``: OCO exits kept by the kernel, end to end.

The bundled real BTCUSDT 1-minute bars, first 300 (2021-12-31 23:01 to 2022-01-01 04:00),
traded by ``momentum_breakout`` with a 0.2% stop and a 0.3% target. On the simulated
venue's own capabilities the exits are one venue list; with ``--capabilities ccxt`` the
venue has neither stops nor lists, so the kernel holds the stop and keeps the list.

The first entry buys 0.00429 at 00:08's open (46541.0), stop 46447.91. Natively the
venue's stop sells at 00:09's open (46444.0, a gap through it). Emulated, the kernel
sees 00:08's low (46443.0) touch the stop at that bar's close, cancels the target, has
the cancel confirmed at 00:09, and only then releases the stop: a market sell at 00:10's
open (46402.0). Targets fill at their limit either way (00:42:40 at 46601.39).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def _bars(path: Path, n: int = 300) -> Path:
    with gzip.open(resources.BTCUSDT_1M_BARS, "rt", encoding="utf-8") as fh:
        path.write_text("".join(next(fh) for _ in range(n + 1)))
    return path


def _backtest(data: Path, out: Path, capabilities: str) -> list[dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable, "-m", "genesis", "backtest", "--data", str(data), "--symbol", "BTCUSDT",
        "--strategy", "momentum_breakout", "--cash", "10000", "--fee-bps", "10",
        "--param", "stop_loss_pct=0.002", "--param", "take_profit_pct=0.003",
        "--capabilities", capabilities, "--out", str(out), "--quiet",
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader((out / "fills.csv").open()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("oco")
    data = _bars(root / "bars.csv")
    outs = {k: root / k for k in ("simulated", "ccxt", "ccxt-again")}
    for name, out in outs.items():
        _backtest(data, out, name.removesuffix("-again"))
    return outs


def _fills(out: Path) -> list[tuple[str, str, Decimal, Decimal]]:
    rows = csv.DictReader((out / "fills.csv").open())
    return [(r["time"], r["side"], D(r["quantity"]), D(r["price"])) for r in rows]


def test_the_emulated_stop_sells_once_the_targets_cancel_is_confirmed(
    runs: dict[str, Path],
) -> None:
    """First round trip: natively the stop sells at 00:09 (46444.0); emulated at 00:10's
    open (46402.0), after the target's cancel came back."""
    native, emulated = _fills(runs["simulated"]), _fills(runs["ccxt"])
    assert native[:2] == [
        ("2022-01-01 00:08:00", "BUY", D("0.00429"), D("46541.0")),
        ("2022-01-01 00:09:00", "SELL", D("0.00429"), D("46444.0")),
    ]
    assert emulated[:2] == [
        ("2022-01-01 00:08:00", "BUY", D("0.00429"), D("46541.0")),
        ("2022-01-01 00:10:00", "SELL", D("0.00429"), D("46402.0")),
    ]


def test_targets_fill_at_their_limit_on_both(runs: dict[str, Path]) -> None:
    """The 00:36 entry's target sells 0.0043 at 46601.39 at 00:42:40, venue list or not."""
    target = ("2022-01-01 00:42:40", "SELL", D("0.00430"), D("46601.39"))
    assert target in _fills(runs["simulated"])
    assert target in _fills(runs["ccxt"])


def test_every_exit_closes_its_entry_exactly_once_and_nothing_is_rejected(
    runs: dict[str, Path],
) -> None:
    """Five round trips, buy then one sell of the same quantity each: never two exits for
    one position, never a position below zero; the venue refused nothing."""
    fills = _fills(runs["ccxt"])
    metrics = json.loads((runs["ccxt"] / "metrics.json").read_text())
    sides = [f[1] for f in fills]
    assert sides == ["BUY", "SELL"] * 5
    assert all(buy[2] == sell[2] for buy, sell in zip(fills[::2], fills[1::2], strict=True))
    assert (metrics["trades"], metrics["rejected_orders"]) == (5, 0)


def test_the_emulated_run_is_byte_identical_twice(runs: dict[str, Path]) -> None:
    """Same input, same capabilities: the same files, byte for byte."""
    for name in ("fills.csv", "trades.csv", "equity.csv", "metrics.json"):
        assert (runs["ccxt"] / name).read_bytes() == (runs["ccxt-again"] / name).read_bytes()
