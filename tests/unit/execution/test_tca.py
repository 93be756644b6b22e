"""Post-trade TCA per parent order (ST-X6): the arithmetic, and a real run's tca.csv checked
against the recording and fills.csv independently.

The run: a probe strategy opens a 0.5 BTC buy parent on the first trade of the bundled
2024-08-08 BTCUSDT streams, sends five 0.1 BTC market children (one every 200 trades),
and finishes the parent at the 1,200th trade.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import OrderFilled, TradeTick
from genesis.data.capture import read_binance_streams
from genesis.execution.tca import TcaBook

D = Decimal
PROBE = """
from genesis.core.enums import Side
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class Probe(Strategy[StrategyParams]):
    def on_start(self):
        self.pid, self.n = None, 0

    def on_trade(self, trade):
        if self.pid is None:
            self.pid = self.ctx.start_parent(
                trade.instrument_id, Side.BUY, "0.5", algo="probe", horizon_s=60
            )
        self.n += 1
        if self.n % 200 == 0 and self.n <= 1000:
            self.ctx.buy(trade.instrument_id, "0.1", confidence=1.0, correlation_id=self.pid)
        if self.n == 1200:
            self.ctx.finish_parent(self.pid)
"""


def _fill(qty: str, px: str, fee: str = "0", side: Side = Side.BUY) -> OrderFilled:
    return OrderFilled(
        ts_event=1, ts_init=1, client_order_id="c1", strategy_id="s", instrument_id="BTCUSDT",
        venue="SIM", trade_id=f"T{qty}{px}", side=side, last_qty=D(qty), last_px=D(px),
        fee=D(fee), fee_currency="USDT", liquidity=LiquiditySide.TAKER,
    )  # fmt: skip


def _trade(qty: str, px: str) -> TradeTick:
    return TradeTick(
        ts_event=1, ts_init=1, instrument_id="BTCUSDT", price=D(px), size=D(qty),
        aggressor_side=None, trade_id="m",
    )  # fmt: skip


def test_the_arithmetic_of_one_parent() -> None:
    """Arrival 61837.635; fills 0.3 @ 61840 and 0.2 @ 61845 (avg 61842); market VWAP
    61841; finish mid 61850: +0.6855 bps vs arrival, +0.1617 vs VWAP, +2.0008 impact."""
    book = TcaBook()
    parent = book.start(
        strategy_id="s", instrument_id="BTCUSDT", side=Side.BUY, quantity=D("0.5"), algo="t",
        horizon_ns=60_000_000_000, now_ns=0, arrival_price=D("61837.635"),
        pretrade_cost_bps=1.5,
    )  # fmt: skip
    book.on_fill(_fill("0.3", "61840"), parent.parent_id, D("1.85520"))
    book.on_fill(_fill("0.2", "61845"), parent.parent_id, D("1.23690"))
    book.on_trade(_trade("1", "61840"))
    book.on_trade(_trade("1", "61842"))
    record = book.finish(parent.parent_id, 30_000_000_000, D("61850"), "")

    assert record is not None
    assert record.average_price == D("61842")
    assert record.interval_vwap == D("61841")
    assert record.slippage_arrival_bps == pytest.approx(
        float((D("61842") - D("61837.635")) / D("61837.635")) * 1e4
    )
    assert record.slippage_vwap_bps == pytest.approx(float(D(1) / D(61841)) * 1e4)
    assert record.impact_bps == pytest.approx(float(D("12.365") / D("61837.635")) * 1e4)
    assert record.fees_bps == pytest.approx(float(D("3.0921") / D("30921")) * 1e4)
    assert (record.fill_ratio, record.fills, record.children) == (1.0, 2, 1)


def test_a_sell_counts_a_lower_price_as_a_cost() -> None:
    book = TcaBook()
    p = book.start(strategy_id="s", instrument_id="BTCUSDT", side=Side.SELL, quantity=D(1),
                   algo="t", horizon_ns=1, now_ns=0, arrival_price=D(100), pretrade_cost_bps=None)  # fmt: skip
    book.on_fill(_fill("1", "99", side=Side.SELL), p.parent_id, D(0))
    book.on_fill(_fill("1", "97"), p.parent_id, D(0))  # a buy: not this parent's execution
    record = book.finish(p.parent_id, 1, D(98), "horizon ended")

    assert record is not None
    assert record.slippage_arrival_bps == pytest.approx(100.0)
    assert record.impact_bps == pytest.approx(200.0)
    assert record.reason == "horizon ended"


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("tca")
    (home / "tca_probe.py").write_text(PROBE)
    out = home / "out"
    env = {**os.environ, "PYTHONPATH": str(home)}
    ran = subprocess.run(
        [sys.executable, "-m", "genesis", "backtest", "--strategy", "tca_probe:Probe",
         "--data", f"BTCUSDT={resources.BTCUSDT_STREAMS}", "--cash", "1000000", "--fee-bps", "10",
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return out


def test_tca_csv_agrees_with_the_fills_and_the_recording(probe_run: Path) -> None:
    """One row: filled 0.5 in 5 children; its average price is fills.csv's; its interval
    VWAP is the recording's prints after the one that opened it, to the one that closed it."""
    (row,) = csv.DictReader((probe_run / "tca.csv").open())
    fills = list(csv.DictReader((probe_run / "fills.csv").open()))
    notional = sum(D(f["quantity"]) * D(f["price"]) for f in fills)
    filled = sum(D(f["quantity"]) for f in fills)
    trades = [
        e
        for e in read_binance_streams(resources.BTCUSDT_STREAMS)
        if isinstance(e, TradeTick) and e.instrument_id == "BTCUSDT"
    ][1:1200]  # fmt: skip (opened on the 1st print, after it was counted; closed on the 1,200th)
    vwap = sum(t.price * t.size for t in trades) / sum(t.size for t in trades)

    assert (row["side"], row["filled"], row["children"], row["reason"]) == ("BUY", "0.5", "5", "")
    assert len({f["client_order_id"] for f in fills}) == 5
    assert filled == D("0.5")
    assert D(row["average_price"]) == (notional / filled).quantize(D("1e-10"))
    assert abs(D(row["interval_vwap"]) - vwap) < D("1e-9")
    assert float(row["fees_bps"]) == pytest.approx(10.0)
