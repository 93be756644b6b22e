"""Real paper-like records: the reference strategy's round trips on the bundled month of
BTCUSDT 1-minute bars (``genesis/resources``), run once per module by the backtest CLI."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import main
from genesis.portfolio.performance import TradeRecord

SID = "sma-btc"


def backtest(out: Path, fast: int, slow: int) -> Path:
    """Run ``sma_cross`` (quantity 1, no fee) into ``out``; return it."""
    argv = ["backtest", "--strategy", "sma_cross", "--param", f"fast={fast}",
            "--param", f"slow={slow}", "--param", "quantity=1", "--cash", "1000000",
            "--fee-bps", "0", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


def _ns(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def trade_records(run: Path, strategy_id: str = SID) -> list[TradeRecord]:
    """The run's closed lots as the ``PerformanceBook`` keeps round trips."""
    with (run / "trades.csv").open() as fh:
        return [
            TradeRecord(
                strategy_id,
                "BTCUSDT",
                _ns(r["entry_time"]),
                _ns(r["exit_time"]),
                Decimal(r["pnl"]),
                2,
            )
            for r in csv.DictReader(fh)
        ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    return {
        "20-30": backtest(base / "f20-s30", 20, 30),
        "10-30": backtest(base / "f10-s30", 10, 30),
    }


@pytest.fixture(scope="module")
def trades(runs: dict[str, Path]) -> list[TradeRecord]:
    return trade_records(runs["20-30"])
