"""The event backtest on the bundled real capture: grid sampling, exact ledgers, bars, errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.backtesting.events import EventBacktestResult, run_event_backtest
from genesis.backtesting.runner import BacktestConfig
from genesis.core.events import Bar, MarketEvent, QuoteTick, TradeTick
from genesis.core.instruments import load_exchange_info
from genesis.data.capture import read_spot_capture
from genesis.errors import ConfigError, DataError

NKN = load_exchange_info(resources.EXCHANGE_INFO).get("NKNUSDT")
CASH = Decimal(10_000)
SECOND = 1_000_000_000


def _config(**changes: object) -> BacktestConfig:
    fields: dict[str, object] = {
        "strategy": "book_imbalance",
        "params": {},
        "instrument": NKN,
        "cash": CASH,
        "fee_bps": Decimal(10),
    }
    fields.update(changes)
    return BacktestConfig(**fields)  # type: ignore[arg-type]


def _run(
    out: Path, events: Iterator[MarketEvent] | None = None, **kw: object
) -> EventBacktestResult:
    stream = read_spot_capture(resources.SPOT_CAPTURE) if events is None else events
    return run_event_backtest(_config(), stream, out, **kw)  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_capture_replays_only_the_instrument(tmp_path: Path) -> None:
    """226 NKNUSDT events are replayed; the 41 events of three other symbols are skipped."""
    result = _run(tmp_path)
    assert (result.events, result.skipped) == (226, 41)
    assert (result.trades, result.fills, result.rejected_orders) == (5, 8, 0)


def test_equity_is_sampled_every_second_of_event_time(tmp_path: Path) -> None:
    """31 rows, one per whole second from 00:28:33 to 00:29:03; the last is the final equity."""
    result = _run(tmp_path)
    rows = _rows(tmp_path / "equity.csv")
    assert result.samples == len(rows) == 31
    assert (rows[0]["timestamp"], rows[-1]["timestamp"]) == (
        "2021-10-12 00:28:33",
        "2021-10-12 00:29:03",
    )
    assert rows[0]["equity"] == "10000"
    assert rows[-1]["equity"] == result.metrics.final_equity == "9998.0693338000000000"


def test_annualisation_follows_the_sampling_interval(tmp_path: Path) -> None:
    """Half-second sampling doubles the rows and the periods per year (63,072,000)."""
    result = _run(tmp_path, sample_ns=SECOND // 2)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert result.samples == 61
    assert metrics["periods_per_year"] == 63_072_000.0
    assert metrics["final_equity"] == "9998.0693338000000000"


def test_venue_and_portfolio_ledgers_agree(tmp_path: Path) -> None:
    """The simulated venue's account equals the kernel's portfolio to the last digit."""
    result = _run(tmp_path)
    assert (
        result.venue_balances
        == result.portfolio_balances
        == {"USDT": Decimal("9998.0693338000000000")}
    )


def test_closed_lots_add_up_to_the_change_in_equity(tmp_path: Path) -> None:
    """Flat at the end: the exact net P&L of trades.csv is final equity minus cash."""
    result = _run(tmp_path)
    pnl = sum((Decimal(r["pnl"]) for r in _rows(tmp_path / "trades.csv")), Decimal(0))
    fees = sum((Decimal(r["fees"]) for r in _rows(tmp_path / "trades.csv")), Decimal(0))
    assert pnl == Decimal(result.metrics.final_equity) - CASH == Decimal("-1.9306662")
    assert fees == Decimal(result.metrics.fees) == Decimal("1.1988662")


def test_a_kline_in_a_recording_is_not_matched_against(tmp_path: Path) -> None:
    """A bar spanning 0.0001..1000 while exits rest changes no fill: the book decides."""
    plain = _run(tmp_path / "plain")
    wild = Bar(
        instrument_id="NKNUSDT",
        ts_open=1633998465 * SECOND,
        ts_event=1633998525 * SECOND,  # 00:28:45, while the first position is open
        ts_init=1633998525 * SECOND,
        open=Decimal("0.3526"),
        high=Decimal(1000),
        low=Decimal("0.0001"),
        close=Decimal("0.3526"),
        volume=Decimal(1),
    )
    events = list(read_spot_capture(resources.SPOT_CAPTURE))
    at = next(i for i, e in enumerate(events) if e.ts_init > wild.ts_init)
    with_bar = _run(tmp_path / "bar", iter([*events[:at], wild, *events[at:]]))
    assert with_bar.events == plain.events + 1
    assert (tmp_path / "bar" / "trades.csv").read_bytes() == (
        tmp_path / "plain" / "trades.csv"
    ).read_bytes()


def test_a_symbol_missing_from_the_recording_is_one_error_and_no_output(tmp_path: Path) -> None:
    """The message names the recording and the symbols it does hold; no file is left."""
    config = _config(instrument=load_exchange_info(resources.EXCHANGE_INFO).get("BTCUSDT"))
    with pytest.raises(DataError, match=r"cap\.jsonl: no market events of BTCUSDT .*NKNUSDT"):
        run_event_backtest(
            config, read_spot_capture(resources.SPOT_CAPTURE), tmp_path, source="cap.jsonl"
        )
    assert list(tmp_path.iterdir()) == []


def test_sampling_interval_must_be_positive(tmp_path: Path) -> None:
    """A zero interval is a configuration error, raised before any output."""
    with pytest.raises(ConfigError, match="sampling interval"):
        _run(tmp_path, sample_ns=0)
    assert list(tmp_path.iterdir()) == []


def test_quotes_alone_drive_the_strategy_and_an_open_position_is_marked(tmp_path: Path) -> None:
    """Without depth the quotes decide; 152 NKN left open are valued at the last mid, 0.3529."""
    quotes = (
        e for e in read_spot_capture(resources.SPOT_CAPTURE) if isinstance(e, QuoteTick | TradeTick)
    )
    result = _run(tmp_path, quotes)
    assert (result.events, result.trades, result.fills) == (75, 3, 6)
    assert result.venue_balances == result.portfolio_balances
    assert result.portfolio_balances == {
        "NKN": Decimal(152),
        "USDT": Decimal("9945.5226835000000000"),
    }
    assert result.metrics.final_equity == "9999.1634835000000000"  # 9945.5226835 + 152 x 0.3529
