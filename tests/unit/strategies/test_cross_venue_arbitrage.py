"""cross_venue_arbitrage (ST-S1) on the real Binance and Bybit BTCUSD quote bars of 2022-12-13.

Data: genesis/resources/{binance,bybit}-btcusd-perp-1m-2022-12-13-quote.csv.gz, one
quote per 1-minute bar at its close (398 minutes quoted on both venues; Bybit
stops at 12:00). The instruments are inferred from the files (tick 0.1, step 1
BTC: the sizes are whole contracts), so the runs use 2,000,000 USD split
between the venues, under the Sniper tier's limits (2% of equity a position).

The golden numbers pin two backtests run as the CLI runs them:

* the default 0.3% threshold with 5 bps taker fees: **no trade**. The venues'
  gap never reaches 30 bps, nor even the 10 bps the two fees cost
  (``tests/unit/analytics/test_arbitrage.py`` shows it minute by minute);
* a 3 bps threshold without fees, to exercise the strategy on this data: 11
  round trips, all long Bybit (the cheaper venue all morning), 8 closed at
  their target and 3 at the stop or the time limit: -103.8 USD. Capturing the
  gap on one venue carries the asset's own moves, which the gap does not pay for.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from genesis.__main__ import main
from genesis.core.enums import OrderStatus, Side
from genesis.core.events import MarketEvent, OrderFilled
from genesis.data.sources import instruments_for, open_sources, parse_data_arg
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES, BYBIT_BTCUSD_1M_QUOTES
from genesis.risk.limits import Tier
from genesis.strategies.sniper.cross_venue_arbitrage import (
    CrossVenueArbitrageParams,
    CrossVenueArbitrageStrategy,
)
from genesis.testing.builders import RecordingLog
from genesis.testing.instruments import instrument_table

D = Decimal
DATA = [str(BINANCE_BTCUSD_1M_QUOTES), str(BYBIT_BTCUSD_1M_QUOTES)]
RUN = ["backtest", "--strategy", "cross_venue_arbitrage", "--cash", "2000000", "--tier", "sniper"]
LOW = CrossVenueArbitrageParams(threshold_bps=3, fee_bps=0)
FOUR_AM = 1_670_904_000_000_000_000  # 2022-12-13 04:00 UTC: long Bybit since 03:55


def _backtest(out: Path, *extra: str) -> tuple[dict[str, object], list[list[str]]]:
    data = [arg for path in DATA for arg in ("--data", path)]
    assert main([*RUN, *data, *extra, "--out", str(out), "--quiet"]) == 0
    with (out / "trades.csv").open(newline="", encoding="utf-8") as fh:
        trades = list(csv.reader(fh))[1:]
    return json.loads((out / "metrics.json").read_text()), trades


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory):
    """The shipped threshold (30 bps) and 5 bps taker fees on both venues."""
    return _backtest(tmp_path_factory.mktemp("cva30"), "--fee-bps", "5", "--param", "fee_bps=5")


@pytest.fixture(scope="module")
def low_run(tmp_path_factory: pytest.TempPathFactory):
    """A 3 bps threshold and no fees."""
    out = tmp_path_factory.mktemp("cva3")
    return _backtest(out, "--fee-bps", "0", "--param", "fee_bps=0", "--param", "threshold_bps=3")


# --- the golden backtests ---------------------------------------------------------------


def test_default_threshold_never_trades(default_run) -> None:
    """At 0.3% net of fees the day offers nothing: no order, equity unchanged."""
    metrics, trades = default_run

    assert trades == []
    assert (metrics["trades"], metrics["final_equity"], metrics["rejected_orders"]) == (
        0,
        "2000000",
        0,
    )


def test_low_threshold_trades_are_pinned(low_run) -> None:
    """Eleven 2-BTC round trips on Bybit, every one of them in the file as pinned."""
    _, trades = low_run

    assert trades == [
        ["2022-12-13 03:55:00", "2022-12-13 04:11:00", "LONG", "2", "17135", "17142.6", "15.2", "0.0"],
        ["2022-12-13 04:12:00", "2022-12-13 04:35:00", "LONG", "2", "17158", "17164.1", "12.2", "0.0"],
        ["2022-12-13 04:36:00", "2022-12-13 05:36:00", "LONG", "2", "17167", "17156", "-22", "0"],
        ["2022-12-13 05:49:00", "2022-12-13 06:31:00", "LONG", "2", "17168", "17177.3", "18.6", "0.0"],
        ["2022-12-13 06:34:00", "2022-12-13 07:18:00", "LONG", "2", "17183", "17091.5", "-183.0", "0.0"],
        ["2022-12-13 07:19:00", "2022-12-13 07:29:00", "LONG", "2", "17099", "17110.8", "23.6", "0.0"],
        ["2022-12-13 07:30:00", "2022-12-13 07:44:00", "LONG", "2", "17127.5", "17135.2", "15.4", "0.0"],
        ["2022-12-13 07:45:00", "2022-12-13 08:28:00", "LONG", "2", "17153.5", "17165.2", "23.4", "0.0"],
        ["2022-12-13 08:30:00", "2022-12-13 09:20:00", "LONG", "2", "17170.5", "17183.5", "26.0", "0.0"],
        ["2022-12-13 09:21:00", "2022-12-13 09:59:00", "LONG", "2", "17190.5", "17202.9", "24.8", "0.0"],
        ["2022-12-13 10:00:00", "2022-12-13 11:00:00", "LONG", "2", "17428", "17399", "-58", "0"],
    ]  # fmt: skip


def test_low_threshold_metrics_are_pinned(low_run) -> None:
    """-103.8 USD over the day: 8 of 11 won, profit factor 0.605, drawdown 0.0118%."""
    metrics, _ = low_run

    assert (metrics["final_equity"], metrics["fees"], metrics["rejected_orders"]) == (
        "1999896.2",
        "0",
        0,
    )
    assert metrics["win_rate"] == pytest.approx(8 / 11, rel=1e-9)
    assert metrics["profit_factor"] == pytest.approx(0.6053231939163499, rel=1e-9)
    assert metrics["expectancy"] == pytest.approx(-9.436363636363636, rel=1e-9)
    assert metrics["max_drawdown"] == pytest.approx(-0.0001184975411759881, rel=1e-9)
    # equity sampled once a quote bar (a minute), annualised over 525,600 minutes
    assert metrics["sharpe"] == pytest.approx(-8.732086969450458, rel=1e-6)


# --- the session, driven directly ---------------------------------------------------------


def _events() -> list[MarketEvent]:
    return list(open_sources([parse_data_arg(path) for path in DATA]))


def _session(params: CrossVenueArbitrageParams) -> tuple[Kernel, Driver]:
    """Kernel, driver and two simulated venues wired as ``backtest`` wires them (no fees)."""
    specs = [parse_data_arg(path) for path in DATA]
    found = instruments_for(specs, instrument_table())
    accounts = {"binance": {"USD": D(1_000_000)}, "bybit": {"USD": D(1_000_000)}}
    venues = {
        v: SimulatedVenue(
            instruments=found.table.get, balances=b, fees=FeeModel(D(0), D(0)), name=v
        )
        for v, b in accounts.items()
    }
    strategy = StrategySpec(
        cls=CrossVenueArbitrageStrategy, strategy_id="cva", params=params,
        instruments=found.instrument_ids, requires_stop_loss=True,
    )  # fmt: skip
    spec = SessionSpec(
        instruments=found.table.get, balances={"USD": D(2_000_000)}, base_currency="USD",
        strategies=[strategy], tier=Tier.SNIPER, venue_balances=accounts,
    )  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    return kernel, Driver(kernel, venues)


def _fills(driver: Driver) -> list[tuple[int, str, str, Decimal, Decimal]]:
    return [
        (f.ts_init, f.instrument_id, f.side.value, f.last_qty, f.last_px)
        for f in driver.order_events
        if isinstance(f, OrderFilled)
    ]


@pytest.fixture(scope="module")
def straight() -> tuple[Kernel, Driver]:
    """The 3 bps session run through the day without a stop."""
    kernel, driver = _session(LOW)
    driver.run(_events())
    return kernel, driver


def test_direct_session_matches_the_cli_run(straight) -> None:
    """22 fills, all on Bybit, ending flat with 1,999,896.2 USD."""
    kernel, driver = straight
    fills = _fills(driver)

    assert len(fills) == 22
    assert {instrument for _, instrument, *_ in fills} == {"bybit:BTCUSD"}
    assert kernel.portfolio.equity() == D("1999896.2")
    assert kernel.portfolio.position_qty("bybit:BTCUSD") == 0


def test_entries_carry_confidence_stop_and_target(straight) -> None:
    """Every entry: a buy on Bybit, confidence >= 0.6, stop under the fill, target above it."""
    kernel, _ = straight
    entries = [o for o in kernel.oms if o.side is Side.BUY]
    first = entries[0]

    assert len(entries) == 11
    assert all(o.status is OrderStatus.FILLED for o in entries)
    assert all(o.confidence is not None and o.confidence >= 0.6 for o in entries)
    assert all(o.stop_loss < o.avg_px < o.take_profit for o in entries)  # type: ignore[operator]
    assert (first.avg_px, first.stop_loss, first.take_profit) == (
        D(17135),
        D("17049.3"),
        D("17142.6"),
    )
    assert kernel.denied == 0


def test_restart_from_a_snapshot_resumes_the_same_trades(straight) -> None:
    """Swapped at 04:00 for a new instance restored from its snapshot: the same 22 fills."""
    events = _events()
    kernel, driver = _session(LOW)
    driver.run(e for e in events if e.ts_init <= FOUR_AM)
    old = kernel.strategies["cva"]
    state = old.snapshot()

    new = kernel.replace_params("cva", LOW)  # new instance: on_start, then restore(snapshot)
    driver.run(e for e in events if e.ts_init > FOUR_AM)

    assert new is not old
    assert json.loads(state)["held"]["instrument"] == "bybit:BTCUSD"
    assert _fills(driver) == _fills(straight[1])


def test_snapshot_round_trips(straight) -> None:
    """restore(snapshot()) into a fresh instance gives back the same snapshot."""
    kernel, _ = _session(LOW)
    kernel.start()
    fresh = kernel.strategies["cva"]
    state = straight[0].strategies["cva"].snapshot()

    fresh.restore(state)

    assert fresh.snapshot() == state
    assert fresh.signals == 11  # type: ignore[attr-defined]


# --- validation ------------------------------------------------------------------------------


def test_min_samples_above_the_window_is_refused() -> None:
    """The persistence test cannot need more samples than its window holds."""
    with pytest.raises(ValidationError, match="persistence_min_samples"):
        CrossVenueArbitrageParams(persistence_window=5, persistence_min_samples=10)


def test_one_venue_is_a_strategy_error() -> None:
    """On a single venue there is nothing to arbitrage: on_start fails and the strategy is off."""
    kernel, _ = _session(LOW)
    strategy = kernel.strategies["cva"]
    strategy.instruments = ("BTCUSD",)

    kernel.start()

    assert [e.error_type for e in kernel.errors] == ["ConfigError"]
