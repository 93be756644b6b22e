"""``python -m genesis backtest`` end to end: the reference run, determinism, bad input."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main

REFERENCE = [
    "backtest",
    "--strategy",
    "sma_cross",
    "--symbol",
    "BTCUSDT",
    "--param",
    "fast=10",
    "--param",
    "slow=30",
    "--param",
    "quantity=1",
    "--cash",
    "1000000",
    "--fee-bps",
    "10",
    "--quiet",
]
TESTS_DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    assert main([*REFERENCE, "--data", str(resources.BTCUSDT_1M_BARS), "--out", str(out)]) == 0
    return out


def _real_lines(n: int) -> list[str]:
    with gzip.open(resources.BTCUSDT_1M_BARS, "rt", encoding="utf-8") as fh:
        return [next(fh) for _ in range(n)]


def test_reference_run_matches_the_peers(reference_run: Path) -> None:
    """945 round trips, final equity and fees equal to backtrader/backtesting.py/Nautilus to the cent."""
    metrics = json.loads((reference_run / "metrics.json").read_text())
    assert metrics["trades"] == 945
    assert metrics["final_equity"] == "902863.237500"
    assert metrics["fees"] == "77769.262500"
    assert metrics["rejected_orders"] == 0


def test_reference_trade_list_first_and_last_rows(reference_run: Path) -> None:
    """Trades are written as the peers write them: labels of the bars whose open filled."""
    rows = list(csv.DictReader((reference_run / "trades.csv").open()))
    assert len(rows) == 945
    assert rows[0] == {
        "entry_time": "2021-12-31 23:42:00",
        "exit_time": "2021-12-31 23:53:00",
        "side": "LONG",
        "quantity": "1.00000",
        "entry_price": "46430.0",
        "exit_price": "46367.0",
        "pnl": "-155.797000",
        "fees": "92.797000",
    }
    assert (rows[-1]["entry_time"], rows[-1]["exit_time"], rows[-1]["pnl"]) == (
        "2022-02-01 05:23:00",
        "2022-02-01 05:30:00",
        "-128.105000",
    )


def test_reference_metrics_golden(reference_run: Path) -> None:
    """Every metric of the reference run, pinned (annualised with 525,600 one-minute periods)."""
    m = json.loads((reference_run / "metrics.json").read_text())
    assert m["total_return"] == pytest.approx(-0.0971367625, rel=1e-9)
    assert m["annual_return"] == pytest.approx(-0.6965959048483177, rel=1e-9)
    assert m["sharpe"] == pytest.approx(-57.517413458641485, rel=1e-9)
    assert m["sortino"] == pytest.approx(-78.3671205461095, rel=1e-9)
    assert m["calmar"] == pytest.approx(-7.17129011632767, rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(-0.0971367625, rel=1e-9)
    assert m["max_drawdown_duration"] == 2699400
    assert m["win_rate"] == pytest.approx(151 / 945, rel=1e-12)
    assert m["profit_factor"] == pytest.approx(0.19393477774817564, rel=1e-9)
    assert m["expectancy"] == pytest.approx(-102.79022486772487, rel=1e-9)
    assert m["exposure"] == pytest.approx(0.4869756390042415, rel=1e-12)
    assert m["periods_per_year"] == 525600.0


def test_reference_daily_metrics_golden(reference_run: Path) -> None:
    """Daily figures of the reference run: 33 UTC days (Dec 31 to Feb 1), 365 days a year.

    The per-minute Sharpe (-57.5) and the daily one (-47.5) agree in kind: the strategy
    loses fees nearly every day with little spread between days.
    """
    m = json.loads((reference_run / "metrics.json").read_text())
    assert (m["initial_equity"], m["days"], m["days_per_year"]) == ("1000000", 33, 365.0)
    assert m["daily_sharpe"] == pytest.approx(-47.45208032597047, rel=1e-9)
    assert m["daily_sortino"] == pytest.approx(-17.76006452870717, rel=1e-9)
    assert m["daily_cagr"] == pytest.approx(-0.6770375049847752, rel=1e-9)
    assert m["daily_calmar"] == pytest.approx(-6.96994101470878, rel=1e-9)
    assert m["daily_max_drawdown"] == pytest.approx(-0.0971367625, rel=1e-9)


def test_reference_daily_sharpe_recomputed_by_hand_from_equity_csv(reference_run: Path) -> None:
    """Last equity row of each UTC day in equity.csv, returns from the 1,000,000 start."""
    closes: dict[str, float] = {}
    with (reference_run / "equity.csv").open() as fh:
        for row in csv.DictReader(fh):
            closes[row["timestamp"][:10]] = float(row["equity"])  # rows are in time order
    wealth = [1_000_000.0, *closes.values()]
    returns = [b / a - 1 for a, b in itertools.pairwise(wealth)]
    mean = sum(returns) / len(returns)
    std = (sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)) ** 0.5
    m = json.loads((reference_run / "metrics.json").read_text())

    assert len(returns) == m["days"] == 33
    assert m["daily_sharpe"] == pytest.approx(mean / std * 365**0.5, rel=1e-9)


def test_fills_csv_has_one_row_per_fill(reference_run: Path) -> None:
    """fills.csv: 1,890 executions (945 round trips), the first the 46430.0 buy of 23:42."""
    rows = list(csv.DictReader((reference_run / "fills.csv").open()))
    assert len(rows) == 1890
    assert rows[0] == {
        "time": "2021-12-31 23:42:00",
        "venue": "SIM",
        "instrument": "BTCUSDT",
        "side": "BUY",
        "quantity": "1.00000",
        "price": "46430.0",
        "fee": "46.430000",
        "fee_currency": "USDT",
        "liquidity": "TAKER",
        "client_order_id": "sma_cross-1640994120000000000-1",
        "strategy": "sma_cross",
        "trade_id": "SIM-T2",
    }
    assert sum(Decimal(r["fee"]) for r in rows) == Decimal("77769.262500")


def test_performance_json_agrees_with_the_metrics(reference_run: Path) -> None:
    """The strategy's own figures: 945 trades, 151 wins, P&L = final equity - cash."""
    perf = json.loads((reference_run / "performance.json").read_text())["sma_cross"]
    assert (perf["trades"], perf["wins"], perf["fills"]) == (945, 151, 1890)
    assert Decimal(perf["realized_pnl"]) == Decimal("902863.2375") - 1_000_000
    assert perf["fees"] == "77769.2625"


def test_equity_curve_has_one_row_per_bar(reference_run: Path) -> None:
    """equity.csv: a header plus 45,031 rows, ending at the final equity."""
    lines = (reference_run / "equity.csv").read_text().splitlines()
    assert len(lines) == 45_032
    assert lines[1] == "2021-12-31 23:01:00,1000000"
    assert lines[-1].endswith(",902863.237500")


def test_same_input_twice_gives_byte_identical_files(reference_run: Path, tmp_path: Path) -> None:
    """Determinism: a second run writes exactly the same bytes."""
    assert main([*REFERENCE, "--data", str(resources.BTCUSDT_1M_BARS), "--out", str(tmp_path)]) == 0
    for name in ("trades.csv", "equity.csv", "fills.csv", "metrics.json", "performance.json"):
        assert (tmp_path / name).read_bytes() == (reference_run / name).read_bytes()


def test_unlisted_symbol_infers_tick_size_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FX bars absent from the venue metadata run with increments inferred from the data."""
    data = TESTS_DATA / "gbpusd-1m-2012-02-bid.csv.gz"
    code = main(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--symbol",
            "GBPUSD",
            "--data",
            str(data),
            "--param",
            "quantity=10000",
            "--cash",
            "100000",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "GBPUSD is not in" in err
    assert "tick 0.00001 (inferred from the data)" in err
    assert json.loads((tmp_path / "metrics.json").read_text())["trades"] > 100


def _bad_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bars.csv"
    path.write_text("".join(lines))
    return path


def _run_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str, data: Path | None = None
) -> str:
    data = data or resources.BTCUSDT_1M_BARS
    argv = REFERENCE if not extra else ["backtest", "--strategy", "sma_cross", "--quiet"]
    code = main([*argv, "--data", str(data), "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len([e for e in err if "error" in e]) == 1
    return err[-1]


def test_missing_column_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file without a close column names the column and the file."""
    lines = [",".join(line.split(",")[:4]) + "\n" for line in _real_lines(6)]
    message = _run_bad(tmp_path, capsys, data=_bad_file(tmp_path, lines))
    assert "close" in message
    assert "bars.csv" in message


def test_nan_price_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NaN close is refused with file:line."""
    lines = _real_lines(6)
    fields = lines[3].split(",")
    fields[4] = "nan"
    lines[3] = ",".join(fields)
    assert "bars.csv:4" in _run_bad(tmp_path, capsys, data=_bad_file(tmp_path, lines))


def test_negative_price_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A negative open is refused with file:line."""
    lines = _real_lines(6)
    lines[2] = lines[2].replace(",", ",-", 1)
    assert "bars.csv:3" in _run_bad(tmp_path, capsys, data=_bad_file(tmp_path, lines))


def test_unsorted_timestamps_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two swapped rows are reported where the order breaks."""
    lines = _real_lines(6)
    lines[2], lines[3] = lines[3], lines[2]
    message = _run_bad(tmp_path, capsys, data=_bad_file(tmp_path, lines))
    assert "bars.csv:4" in message
    assert "unsorted" in message


def test_duplicate_timestamp_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repeated row is a duplicate timestamp."""
    lines = _real_lines(6)
    lines.insert(3, lines[2])
    message = _run_bad(tmp_path, capsys, data=_bad_file(tmp_path, lines))
    assert "bars.csv:4" in message
    assert "duplicate" in message


def test_unknown_strategy_lists_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown strategy name lists the registered ones."""
    code = main(["backtest", "--strategy", "sma_crossing", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown strategy 'sma_crossing'" in err
    assert "sma_cross" in err
    assert "momentum_breakout" in err


def test_unknown_param_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt parameter is refused by the strategy's own model."""
    assert "--param fsat: unknown parameter" in _run_bad(tmp_path, capsys, "--param", "fsat=3")


def test_mistyped_param_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A parameter of the wrong type says what was given."""
    message = _run_bad(tmp_path, capsys, "--param", "slow=abc")
    assert "--param slow" in message
    assert "'abc'" in message


def test_param_without_equals_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--param needs KEY=VALUE."""
    assert "expected KEY=VALUE" in _run_bad(tmp_path, capsys, "--param", "fast")


def test_repeated_param_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same --param twice is ambiguous and refused."""
    assert "--param fast is given twice" in _run_bad(
        tmp_path, capsys, "--param", "fast=5", "--param", "fast=6"
    )


def test_fast_not_below_slow_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The cross-field rule of sma_cross is checked before any output."""
    assert "fast (30) must be less than slow (10)" in _run_bad(
        tmp_path, capsys, "--param", "fast=30", "--param", "slow=10"
    )


def test_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    """As a real process: one line on stderr, exit code 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "genesis", "backtest", "--strategy", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_failed_run_leaves_no_outputs_beside_an_old_run(
    reference_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that fails on line 300 removes its partial files and the previous run's metrics."""
    for name in ("trades.csv", "equity.csv", "metrics.json"):
        (tmp_path / name).write_bytes((reference_run / name).read_bytes())
    lines = _real_lines(400)
    lines[299] = lines[299].rsplit(",", 1)[0] + ",-1\n"  # a negative volume
    data = tmp_path / "bars.csv"
    data.write_text("".join(lines))

    code = main([*REFERENCE, "--data", str(data), "--out", str(tmp_path)])

    assert code == 2
    assert "bars.csv:300" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.csv"]


def test_missing_exchange_info_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad --exchange-info is a usage error naming the flag, not an internal error."""
    code = main(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--exchange-info",
            str(tmp_path / "none.json"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "--exchange-info" in capsys.readouterr().err


def test_out_that_is_a_file_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out pointing at a file is a usage error naming the flag."""
    target = tmp_path / "afile"
    target.write_text("")
    code = main(["backtest", "--strategy", "sma_cross", "--quiet", "--out", str(target)])
    assert code == 2
    assert "--out" in capsys.readouterr().err


def test_one_data_with_symbol_prefix_names_the_instrument(tmp_path: Path) -> None:
    """``--data ETHBTC=FILE``: the bars are ETHBTC (exchangeInfo's 0.0001 step), not BTCUSDT."""
    path = resources.ALTBTC_5M_BARS["ETHBTC"]
    argv = ["backtest", "--strategy", "sma_cross", "--param", "quantity=1", "--cash", "1",
            "--data", f"ETHBTC={path}", "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    fills = list(csv.DictReader((tmp_path / "fills.csv").open()))
    assert fills
    assert {f["instrument"] for f in fills} == {"ETHBTC"}


def test_one_quote_bar_file_replays_as_quotes(tmp_path: Path) -> None:
    """A quote-bar CSV alone is read as quotes (bid/ask closes), one equity row a minute:
    721 from the first close, 00:02, to 12:02 (464 quoted minutes, gaps sampled too)."""
    argv = ["backtest", "--strategy", "book_imbalance", "--cash", "2000000",
            "--data", f"bybit:BTCUSD={resources.BYBIT_BTCUSD_1M_QUOTES}",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    rows = (tmp_path / "equity.csv").read_text().splitlines()
    assert (len(rows) - 1, rows[1].split(",")[0]) == (721, "2022-12-13 00:02:00")


def test_several_bar_files_sample_equity_once_a_bar(tmp_path: Path) -> None:
    """Two 5-minute series: equity.csv has one row per 5 minutes of the 20 days, not per second."""
    argv = ["backtest", "--strategy", "sma_cross", "--param", "quantity=1", "--cash", "10",
            "--data", f"ETHBTC={resources.ALTBTC_5M_BARS['ETHBTC']}",
            "--data", f"LTCBTC={resources.ALTBTC_5M_BARS['LTCBTC']}",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    rows = (tmp_path / "equity.csv").read_text().splitlines()
    assert len(rows) - 1 == 5_760


def test_one_bare_file_takes_its_symbol_from_its_name(tmp_path: Path) -> None:
    """``binance-ETHBTC-5m-...csv.gz`` alone is ETHBTC (it was silently BTCUSDT: 0 trades)."""
    argv = ["backtest", "--strategy", "mean_reversion", "--cash", "1", "--tier", "hunter",
            "--data", str(resources.ALTBTC_5M_BARS["ETHBTC"]), "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    perf = json.loads((tmp_path / "performance.json").read_text())["mean_reversion"]
    assert (perf["trades"], perf["fills"]) == (12, 24)


def test_each_venue_charges_its_own_fee(tmp_path: Path) -> None:
    """Binance 5 bps and Bybit 6 bps on the two-venue BTCUSD trade bars: every fill's fee is
    its venue's share of its notional."""
    argv = ["backtest", "--strategy", "sma_cross", "--param", "quantity=1", "--cash", "2000000",
            "--data", f"binance:BTCUSD={resources.BINANCE_BTCUSD_1M_TRADES}",
            "--data", f"bybit:BTCUSD={resources.BYBIT_BTCUSD_1M_TRADES}",
            "--venue-fee-bps", "binance=5", "--venue-fee-bps", "bybit=6",
            "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    rates: dict[str, set[Decimal]] = {}
    for f in csv.DictReader((tmp_path / "fills.csv").open()):
        notional = Decimal(f["quantity"]) * Decimal(f["price"])
        rates.setdefault(f["venue"], set()).add(Decimal(f["fee"]) / notional * 10_000)
    assert rates == {"SIM-BINANCE": {Decimal(5)}, "SIM-BYBIT": {Decimal(6)}}


def test_a_bad_venue_fee_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["backtest", "--strategy", "sma_cross", "--venue-fee-bps", "bybit"])
    assert stop.value.code == 2
    assert "expected VENUE=BPS" in capsys.readouterr().err
