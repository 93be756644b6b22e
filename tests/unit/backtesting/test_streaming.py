"""RunningMetrics gives the same numbers as compute_metrics, in fixed memory."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

import pytest

from genesis import resources
from genesis.backtesting.metrics import compute_metrics
from genesis.backtesting.streaming import RunningMetrics
from genesis.data.loaders import read_bars

PNLS = [46.319, -92.797, 0.0, 155.797, -8.5]


@pytest.fixture(scope="module")
def curve() -> tuple[list[int], list[float]]:
    """1 BTC held over the real month, marked at each close, on 100,000 USDT."""
    bars = list(read_bars(resources.BTCUSDT_1M_BARS, "BTCUSDT"))
    start = bars[0].close
    return [b.ts_open for b in bars], [float(Decimal(100_000) - start + b.close) for b in bars]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65_536])
def test_running_metrics_equal_the_batch_metrics(
    curve: tuple[list[int], list[float]], chunk: int
) -> None:
    """Every field agrees to 1e-12 relative, whatever the chunk size."""
    times, equity = curve
    final = Decimal(repr(equity[-1]))
    common = {
        "exposed_bars": 20_000,
        "fees": Decimal("12.5"),
        "rejected_orders": 3,
        "final_equity": final,
        "periods_per_year": 525_600.0,
    }
    batch = compute_metrics(
        initial_equity=Decimal(100_000),
        equity=equity,
        timestamps_ns=times,
        trade_pnls=PNLS,
        **common,
    )
    running = RunningMetrics(Decimal(100_000), chunk=chunk)
    for ts, value in zip(times, equity, strict=True):
        running.add(ts, value)
    for pnl in PNLS:
        running.add_trade(pnl)
    streamed = running.finish(**common)
    for field in fields(batch):
        expected, actual = getattr(batch, field.name), getattr(streamed, field.name)
        if isinstance(expected, float):
            assert actual == pytest.approx(expected, rel=1e-12), field.name
        else:
            assert actual == expected, field.name


def test_no_bars_is_a_data_error() -> None:
    """A run that saw no bars cannot have return metrics."""
    with pytest.raises(Exception, match="no equity points"):
        RunningMetrics(Decimal(1)).finish(
            exposed_bars=0,
            fees=Decimal(0),
            rejected_orders=0,
            final_equity=Decimal(1),
            periods_per_year=1.0,
        )
