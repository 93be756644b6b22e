"""``python -m genesis backtest`` on tick/L2 recordings: real captures, golden figures, errors."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main

STREAMS = (
    Path(__file__).resolve().parents[1] / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
)
NKN_RUN = [
    "backtest",
    "--strategy",
    "book_imbalance",
    "--symbol",
    "NKNUSDT",
    "--cash",
    "10000",
    "--fee-bps",
    "10",
]
BTC_RUN = ["backtest", "--strategy", "book_imbalance", "--cash", "100000", "--fee-bps", "10"]


def _metrics(out: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((out / "metrics.json").read_text())
    return loaded


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def btc_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("btc")
    assert main([*BTC_RUN, "--data", str(STREAMS), "--out", str(out), "--quiet"]) == 0
    return out


def test_bundled_capture_trades_nknusdt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The 30-second capture: 226 events, 5 closed lots from 8 fills, exact equity and fees."""
    code = main([*NKN_RUN, "--data", str(resources.SPOT_CAPTURE), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    metrics = _metrics(tmp_path)
    assert code == 0
    assert metrics["trades"] == 5
    assert metrics["final_equity"] == "9998.0693338000000000"
    assert metrics["fees"] == "1.1988662000000000"
    assert metrics["rejected_orders"] == 0
    assert metrics["periods_per_year"] == 31_536_000.0
    assert "events            226 in " in out
    assert "41 of other symbols skipped" in out
    assert "trades            5 (8 fills, 0 rejected orders)" in out


def test_capture_trade_rows_have_the_bar_backtests_columns(tmp_path: Path) -> None:
    """trades.csv keeps the bar columns; times carry microseconds, prices the venue's digits."""
    main([*NKN_RUN, "--data", str(resources.SPOT_CAPTURE), "--out", str(tmp_path), "--quiet"])
    rows = _rows(tmp_path / "trades.csv")
    assert rows[0] == [
        "entry_time",
        "exit_time",
        "side",
        "quantity",
        "entry_price",
        "exit_price",
        "pnl",
        "fees",
    ]
    assert rows[1] == [
        "2021-10-12 00:28:42.745300",
        "2021-10-12 00:28:47.769396",
        "LONG",
        "567",
        "0.35260000",
        "0.35240000",
        "-0.51313500",
        "0.39973500",
    ]
    assert len(rows) == 1 + 5


def test_btcusdt_streams_trade(btc_run: Path) -> None:
    """346 s of BTCUSDT depth, quotes and trades: 87 closed lots, equity and fees to the digit."""
    metrics = _metrics(btc_run)
    assert metrics["trades"] == 87
    assert metrics["final_equity"] == "99817.0668897514000000"
    assert metrics["fees"] == "187.8080182486000000"
    assert metrics["rejected_orders"] == 0
    assert len(_rows(btc_run / "equity.csv")) == 1 + 347


def test_rerun_is_byte_identical(btc_run: Path, tmp_path: Path) -> None:
    """The same recording twice gives the same three files, byte for byte."""
    assert main([*BTC_RUN, "--data", str(STREAMS), "--out", str(tmp_path), "--quiet"]) == 0
    for name in ("trades.csv", "equity.csv", "metrics.json"):
        assert (tmp_path / name).read_bytes() == (btc_run / name).read_bytes(), name


def test_gzip_and_plain_capture_give_the_same_files(tmp_path: Path) -> None:
    """Detection is by name (.jsonl or .jsonl.gz); the content decides nothing else."""
    plain = tmp_path / "capture.jsonl"
    plain.write_bytes(gzip.decompress(resources.SPOT_CAPTURE.read_bytes()))
    main([*NKN_RUN, "--data", str(plain), "--out", str(tmp_path / "a"), "--quiet"])
    main([*NKN_RUN, "--data", str(resources.SPOT_CAPTURE), "--out", str(tmp_path / "b"), "--quiet"])
    for name in ("trades.csv", "equity.csv", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _corrupt(source: Path, target: Path, lineno: int) -> None:
    lines = gzip.decompress(source.read_bytes()).decode().splitlines(keepends=True)
    lines[lineno - 1] = lines[lineno - 1][:40] + "\n"
    target.write_text("".join(lines), encoding="utf-8")


def test_corrupted_capture_line_exits_2_with_file_and_line(tmp_path: Path) -> None:
    """A truncated JSON line: one error line naming file:line, exit 2, no output files."""
    bad = tmp_path / "capture.jsonl"
    _corrupt(resources.SPOT_CAPTURE, bad, 100)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "genesis", *NKN_RUN, "--data", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert proc.returncode == 2
    assert len(errors) == 1
    assert errors[0].startswith(f"genesis backtest: error: {bad}:100: invalid JSON")
    assert "Traceback" not in proc.stderr
    assert not any(out.iterdir())


def test_corrupted_streams_line_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The raw streams reader reports the line too (here line 5000 of the BTCUSDT file)."""
    bad = tmp_path / "streams.txt"
    _corrupt(STREAMS, bad, 5000)
    code = main([*BTC_RUN, "--data", str(bad), "--out", str(tmp_path / "out")])
    assert code == 2
    assert f"{bad}:5000: " in capsys.readouterr().err


def test_symbol_absent_from_the_recording_lists_the_ones_present(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default BTCUSDT on the NKNUSDT capture: exit 2, and the symbols it does hold."""
    args = ["backtest", "--strategy", "book_imbalance", "--data", str(resources.SPOT_CAPTURE)]
    code = main([*args, "--out", str(tmp_path)])
    assert code == 2
    assert "no market events of BTCUSDT (symbols in it: BLZETH, LRCBTC, NKNUSDT, RUNEEUR)" in (
        capsys.readouterr().err
    )


def test_unlisted_symbol_on_a_recording_needs_a_tick_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tick sizes are inferred from bars only; a recording asks for --tick-size."""
    args = ["backtest", "--strategy", "book_imbalance", "--symbol", "FOOUSDT"]
    code = main([*args, "--data", str(resources.SPOT_CAPTURE), "--out", str(tmp_path)])
    assert code == 2
    assert "--symbol FOOUSDT is not in exchange-info-2021-10-12.json.gz; pass --tick-size" in (
        capsys.readouterr().err
    )
