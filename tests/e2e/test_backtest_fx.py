"""The golden FX backtest: sma_cross on the bundled FXCM GBPUSD bid/ask month (2012-02),
buys at the ask, sells at the bid, financing at the 17:00 New York rollover, pinned."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import main
from genesis.backtesting.fx import run_fx_backtest
from genesis.backtesting.runner import BacktestConfig
from genesis.core.fx import fx_pair
from genesis.data.timeparse import make_timestamp_parser

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
BID, ASK = DATA / "gbpusd-1m-2012-02-bid.csv.gz", DATA / "gbpusd-1m-2012-02-ask.csv.gz"
GOLDEN = [
    "backtest", "--data", str(BID), "--ask-data", str(ASK), "--symbol", "GBPUSD",
    "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30",
    "--param", "quantity=10000", "--cash", "100000", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fx")
    assert main([*GOLDEN, "--out", str(out)]) == 0
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _closes(path: Path) -> dict[str, Decimal]:
    """Each minute's close by the time it closes (``YYYY-MM-DD HH:MM:SS``, as fills.csv)."""
    with gzip.open(path, "rt", encoding="ascii") as fh:
        rows = list(csv.DictReader(fh))
    parse = make_timestamp_parser(rows[0]["timestamp"])
    out = {}
    for row in rows:
        close_ns = parse(row["timestamp"]) + 60_000_000_000
        out[_minute(close_ns)] = D(row["close"])
    return out


def _minute(ts_ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_golden_account_figures(golden: Path) -> None:
    fx = json.loads((golden / "fx.json").read_text())
    assert fx["account_currency"] == "USD"
    assert (fx["nav"], fx["realized_pnl"], fx["financing"]) == (
        "99068.68220", "-915.10000", "-16.2178",
    )  # fmt: skip
    assert (fx["financing_entries"], fx["units"], fx["skipped_crossed"]) == (9, "0", 347)


def test_golden_trade_count_and_final_equity(golden: Path) -> None:
    metrics = json.loads((golden / "metrics.json").read_text())
    assert (metrics["trades"], metrics["final_equity"], metrics["rejected_orders"]) == (
        613, "99068.68220", 0,
    )  # fmt: skip
    assert len(_rows(golden / "fills.csv")) == 1226


def test_golden_first_fills(golden: Path) -> None:
    fills = [(r["time"], r["side"], r["quantity"], r["price"]) for r in _rows(golden / "fills.csv")]
    assert fills[:3] == [
        ("2012-02-01 01:13:00", "BUY", "10000", "1.57611"),
        ("2012-02-01 01:33:00", "SELL", "10000", "1.57590"),
        ("2012-02-01 02:02:00", "BUY", "10000", "1.57608"),
    ]


def test_every_buy_takes_the_ask_and_every_sell_the_bid(golden: Path) -> None:
    bids, asks = _closes(BID), _closes(ASK)
    for fill in _rows(golden / "fills.csv"):
        book = asks if fill["side"] == "BUY" else bids
        assert D(fill["price"]) == book[fill["time"]], fill


def test_golden_financing_rows(golden: Path) -> None:
    rows = _rows(golden / "financing.csv")
    assert [(r["ts"], r["days"], r["amount"]) for r in rows[:2]] == [
        ("2012-02-01T22:00:00Z", "3", "-3.2533"),
        ("2012-02-02T22:00:00Z", "1", "-1.0825"),
    ]
    assert sum(D(r["amount"]) for r in rows) == D("-16.2178")
    assert all(r["currency"] == "USD" and D(r["units"]) > 0 for r in rows)  # long only


def test_rerun_is_byte_identical(golden: Path, tmp_path: Path) -> None:
    assert main([*GOLDEN, "--out", str(tmp_path)]) == 0
    for name in ("fills.csv", "trades.csv", "equity.csv", "financing.csv", "fx.json"):
        assert (tmp_path / name).read_bytes() == (golden / name).read_bytes(), name


def test_the_ledger_agrees_with_the_kernel_portfolio(tmp_path: Path) -> None:
    """USD is the quote: nothing is rounded, and NAV equals the kernel's equity exactly."""
    pair = fx_pair("GBPUSD")
    config = BacktestConfig(
        strategy="sma_cross",
        params={"fast": "10", "slow": "30", "quantity": "10000"},
        instrument=pair.instrument(),
        cash=D(100_000),
    )
    result = run_fx_backtest(config, pair, "USD", BID, ASK, tmp_path)
    assert result.kernel_equity == result.ledger.nav(result.last_mid) == D("99068.68220")
    assert result.ledger.financing == sum(e.amount for e in result.ledger.entries)


def test_a_gbp_account_converts_at_the_pair_rate(tmp_path: Path) -> None:
    assert main([*GOLDEN, "--account-currency", "GBP", "--out", str(tmp_path)]) == 0
    fx = json.loads((tmp_path / "fx.json").read_text())
    assert (fx["nav"], fx["realized_pnl"], fx["financing"]) == (
        "99409.8238", "-579.9024", "-10.2738",
    )  # fmt: skip
    assert _rows(tmp_path / "financing.csv")[0]["amount"] == "-2.0548"  # -3.2533... / 1.583275


def test_financing_rates_come_from_the_command_line(tmp_path: Path) -> None:
    args = [*GOLDEN, "--financing-long", "0.01", "--out", str(tmp_path)]
    assert main(args) == 0
    rows = _rows(tmp_path / "financing.csv")
    assert (rows[0]["annual_rate"], rows[0]["amount"]) == ("0.01", "1.3013")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--account-currency", "EUR"], "account currency EUR"),
        (["--symbol", "BTCUSDT"], "expected a pair such as GBPUSD"),
    ],
)
def test_bad_fx_options_are_clear_errors(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*GOLDEN, *extra, "--out", str(tmp_path)]) != 0
    assert message in capsys.readouterr().err
