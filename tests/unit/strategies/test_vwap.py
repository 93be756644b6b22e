"""vwap (ST-X2): a parent scheduled along the intraday volume curve, on the real BTCUSDT streams.

Data: the bundled Binance spot BTCUSDT recording of 2024-08-08 23:54:13-23:59:59 UTC
(depth diffs, bookTicker, trades, a REST snapshot); the curve from the bundled BTCUSDT
month of 1-minute bars (31 complete days of January 2022). The parent starts at the first
quote, 23:54:14.087891, so a 240 s horizon spans the curve's minutes 23:54 to 23:58: on
such a horizon the schedule is the curve's local shape (0.71, 0.78, 0.80, 0.55, 0.55 of an
average minute), heavier first. The slicing engine itself is tested in test_twap.py.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from genesis import resources
from genesis.core.events import MarketEvent
from genesis.execution.tca import TcaRecord
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.strategist.vwap import Vwap, VwapParams
from genesis.testing.builders import RecordingLog
from genesis.testing.streams import backtest_rows, events, interval_vwap, run_execution, start_ns

D = Decimal
NS = 1_000_000_000
SID = "vwap"
STEP = D("0.00001")


def run(params: VwapParams, data: tuple[MarketEvent, ...] | None = None, *,
        cash: str = "2000000", finish: bool = True) -> tuple[Kernel, Driver, list[TcaRecord], RecordingLog]:  # fmt: skip
    return run_execution(Vwap, SID, params, data, cash=cash, finish=finish)


def params(**kw: Any) -> VwapParams:
    return VwapParams(side="BUY", quantity=D(kw.pop("quantity", "2")), horizon_s=240, **kw)


@functools.cache
def minute_shares() -> pd.Series:
    """The curve per minute of day, written here with pandas (complete days only)."""
    df = pd.read_csv(resources.BTCUSDT_1M_BARS, parse_dates=["timestamp"])
    df["day"] = df["timestamp"].dt.floor("D")
    df["minute"] = (df["timestamp"] - df["day"]).dt.total_seconds().astype(int) // 60
    grid = df.groupby(["day", "minute"])["volume"].sum().unstack().dropna()
    shares = grid.div(grid.sum(axis=1), axis=0).mean(axis=0)
    return shares / shares.sum()


def slice_weights(slices: int = 8, horizon_s: int = 240) -> list[float]:
    """Each slice's expected volume: the minutes it overlaps, pro rata of the seconds."""
    shares, day = minute_shares(), 86_400 * NS
    weights = []
    for k in range(slices):
        a = start_ns() + k * horizon_s * NS // slices
        b = start_ns() + (k + 1) * horizon_s * NS // slices
        w, t = 0.0, a
        while t < b:
            edge = min(b, (t // (60 * NS) + 1) * 60 * NS)
            w += float(shares[(t % day) // (60 * NS)]) * (edge - t) / (60 * NS)
            t = edge
        weights.append(w)
    return weights


def test_golden_buy_two_btc_over_four_minutes(tmp_path: Path) -> None:
    """2 BTC in 8 slices of 30 s weighted by the curve: 0.25228 first, 0.28540 in the busy
    23:56, 0.19752 last; average 61,790.7851 against an arrival mid of 61,837.635 (-7.58 bps)
    and an interval VWAP of 61,773.0793 (+2.87 bps, the VWAP recomputed from the trades)."""
    rows, tca = backtest_rows(tmp_path / "out", "vwap", "side=BUY", "quantity=2", "horizon_s=240")
    fills = [(r["time"], r["quantity"], r["price"]) for r in rows]

    assert fills == [
        ("2024-08-08 23:54:14.206652", "0.25228", "61837.64000000"),
        ("2024-08-08 23:54:44.088085", "0.26414", "61855.37000000"),
        ("2024-08-08 23:55:14.133245", "0.27753", "61837.89000000"),
        ("2024-08-08 23:55:44.114193", "0.28123", "61809.65000000"),
        ("2024-08-08 23:56:14.092705", "0.28540", "61762.01000000"),
        ("2024-08-08 23:56:44.099190", "0.24421", "61741.33000000"),
        ("2024-08-08 23:57:14.088950", "0.19769", "61726.14000000"),
        ("2024-08-08 23:57:44.136735", "0.19752", "61718.95000000"),
    ]
    assert (tca["filled"], tca["children"], tca["reason"]) == ("2", "8", "")
    assert (tca["arrival_price"], tca["average_price"]) == ("61837.635", "61790.78510305")
    assert (tca["slippage_arrival_bps"], tca["slippage_vwap_bps"]) == ("-7.5763", "2.8663")
    end = next(e.ts_init for e in events() if e.ts_init >= start_ns() + 210 * NS)
    vwap = interval_vwap(start_ns(), end)
    assert round(vwap, 10) == D(tca["interval_vwap"])
    average = D(tca["average_price"])
    assert round(float((average - vwap) / vwap) * 1e4, 4) == float(tca["slippage_vwap_bps"])


def test_the_schedule_follows_the_curve() -> None:
    """Every child is 2 BTC x its slice's share of the horizon's expected volume (the curve
    integrated over the slice here, from a pandas groupby), to two steps; 54% in the first
    half, where a TWAP puts 50%."""
    kernel, _, _, _ = run(params())
    sizes = [o.quantity for o in kernel.oms if o.strategy_id == SID]
    weights = slice_weights()

    expected = [D(2) * D(repr(w / sum(weights))) for w in weights]

    assert all(abs(s - e) <= 2 * STEP for s, e in zip(sizes, expected, strict=True))
    assert sum(sizes[:4]) == D("1.07518")


def test_under_fills_are_caught_up_in_the_curves_proportions() -> None:
    """100 BTC with a 1 bp budget: each slice's target is what is open times its weight over
    the weights left, so what the thin book did not give moves to the later slices in the
    curve's proportions; the parent ends short, saying why."""
    kernel, _, tca, log = run(params(quantity="100", max_slippage_bps=1), cash="100000000")
    children = [o for o in kernel.oms if o.strategy_id == SID]
    targets = [D(f["target"]) for _, e, f in log.records if e == "child_order"]
    weights = slice_weights()

    done = D(0)
    for k, (child, target) in enumerate(zip(children, targets, strict=True)):
        share = weights[k] / sum(weights[k:])
        assert abs(target - (100 - done) * D(repr(share))) < D("1e-6")
        done += child.filled_qty
    assert tca[0].reason.startswith("horizon ended: liquidity: the book held")


def test_hourly_buckets_make_four_minutes_flat() -> None:
    """With hourly buckets 23:54-23:58 lie in one bucket: the weights are equal and the
    children are the TWAP's 0.25."""
    kernel, _, _, _ = run(params(bucket_s=3600))

    assert [o.quantity for o in kernel.oms if o.strategy_id == SID] == [D("0.25000")] * 8


def test_a_restore_mid_parent_keeps_the_schedule() -> None:
    """Swapped for a fresh instance restored from its snapshot 100 s in, the strategy sends
    the children of the uninterrupted run (the weights are in the snapshot)."""
    whole, *_ = run(params())
    cut = tuple(e for e in events() if e.ts_init < start_ns() + 100 * NS)
    kernel, driver, _, _ = run(params(), cut, finish=False)

    kernel.replace_params(SID, params())
    driver.run(events()[len(cut) :])

    assert [(o.client_order_id, o.quantity) for o in kernel.oms] == [
        (o.client_order_id, o.quantity) for o in whole.oms
    ]


def test_an_unreadable_history_disables_the_strategy_at_start(tmp_path: Path) -> None:
    """A history file that cannot be read stops the strategy at its start, saying which file
    and why; no parent is opened."""
    kernel, _, tca, _ = run(params(history=str(tmp_path / "missing.csv")))

    assert [(e.error_type, e.hook) for e in kernel.errors] == [("DataError", "on_start")]
    assert "missing.csv" in kernel.errors[0].message
    assert tca == []


def test_registered_for_the_strategist_tier() -> None:
    """Registered as ``vwap`` for the Strategist tier (ST-X2)."""
    spec = registry.get("vwap")

    assert (spec.cls, spec.tiers, spec.spec_ids) == (Vwap, (Tier.STRATEGIST,), ("ST-X2", "EX-3"))
