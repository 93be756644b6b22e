"""The golden long/short FX backtest: sma_cross ``allow_short=true`` (stop and reverse) on
the bundled FXCM GBPUSD bid/ask month (2012-02), on margin (3.33%), shorts financed at
the short rate (+0.5% a year: a short receives), pinned. The long-only golden run is
tests/e2e/test_backtest_fx.py; it is unchanged."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import main
from genesis.backtesting.fx import run_fx_backtest
from genesis.backtesting.runner import BacktestConfig
from genesis.core.fx import fx_pair

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
BID, ASK = DATA / "gbpusd-1m-2012-02-bid.csv.gz", DATA / "gbpusd-1m-2012-02-ask.csv.gz"
LONG_SHORT = [
    "backtest", "--data", str(BID), "--ask-data", str(ASK), "--symbol", "GBPUSD",
    "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30",
    "--param", "allow_short=true", "--cash", "100000", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fxshort")
    args = [*LONG_SHORT, "--param", "quantity=10000", "--financing-short", "0.005"]
    assert main([*args, "--out", str(out)]) == 0
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_golden_long_short_account_figures(golden: Path) -> None:
    fx = json.loads((golden / "fx.json").read_text())
    assert (fx["nav"], fx["balance"], fx["realized_pnl"], fx["financing"]) == (
        "97992.64770", "97995.14770", "-1992.10000", "-12.7523",
    )  # fmt: skip
    assert (fx["units"], fx["unrealized_pnl"], fx["margin_used"]) == (
        "-10000", "-2.50000", "530.175960000",
    )  # fmt: skip


def test_golden_long_short_trades_and_fills(golden: Path) -> None:
    metrics = json.loads((golden / "metrics.json").read_text())
    assert (metrics["trades"], metrics["final_equity"], metrics["rejected_orders"]) == (
        1226, "97992.64770", 0,
    )  # fmt: skip
    fills = [(r["time"], r["side"], r["quantity"], r["price"]) for r in _rows(golden / "fills.csv")]
    assert len(fills) == 1227
    assert fills[:3] == [
        ("2012-02-01 00:51:00", "SELL", "10000", "1.57568"),  # a short opened, at the bid
        ("2012-02-01 01:13:00", "BUY", "20000", "1.57611"),  # bought back and long, at the ask
        ("2012-02-01 01:33:00", "SELL", "20000", "1.57590"),
    ]
    sides = {r["side"] for r in _rows(golden / "trades.csv")}
    assert sides == {"LONG", "SHORT"}


def test_golden_financing_has_the_short_sign(golden: Path) -> None:
    """Longs pay -2.5% (9 rollovers, the long-only run's -16.2178 exactly: the same
    nights), shorts receive +0.5% (12 rollovers, +3.4655)."""
    rows = _rows(golden / "financing.csv")
    shorts = [r for r in rows if D(r["units"]) < 0]
    longs = [r for r in rows if D(r["units"]) > 0]
    assert (len(shorts), sum(D(r["amount"]) for r in shorts)) == (12, D("3.4655"))
    assert (len(longs), sum(D(r["amount"]) for r in longs)) == (9, D("-16.2178"))
    assert all(r["annual_rate"] == "0.005" and D(r["amount"]) > 0 for r in shorts)
    assert [(r["ts"], r["units"], r["days"], r["amount"]) for r in shorts[:1]] == [
        ("2012-02-03T22:00:00Z", "-10000", "1", "0.2167"),
    ]


def test_the_ledger_agrees_with_the_kernel_portfolio_short(tmp_path: Path) -> None:
    """Ending short: the kernel's equity (GBP balance negative) is the ledger's NAV."""
    pair = fx_pair("GBPUSD")
    config = BacktestConfig(
        strategy="sma_cross",
        params={"fast": "10", "slow": "30", "quantity": "10000", "allow_short": "true"},
        instrument=pair.instrument(),
        cash=D(100_000),
    )
    result = run_fx_backtest(config, pair, "USD", BID, ASK, tmp_path)
    assert result.ledger.units == D(-10_000)
    assert result.kernel_equity == result.ledger.nav(result.last_mid) == D("97985.71670")


def test_when_the_margin_does_not_cover_an_entry_it_is_refused(tmp_path: Path) -> None:
    """2,000,000 units need 0.0333 x ~3.15M = ~105,000 of margin against 100,000: every
    entry (a flat account's every cross) is refused, nothing trades, the cash is kept."""
    assert main([*LONG_SHORT, "--param", "quantity=2000000", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["trades"], metrics["final_equity"], metrics["rejected_orders"]) == (
        0, "100000", 1230,
    )  # fmt: skip
