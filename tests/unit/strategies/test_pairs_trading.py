"""pairs_trading (ST-H2) on the bundled DASHBTC and LTCBTC 5-minute bars of January 2018.

Data: genesis/resources/binance-{DASHBTC,LTCBTC}-5m-2018-01.csv.gz (5,758 and
5,760 bars, 2018-01-10 04:55 → 2018-01-30 04:50 UTC; DASHBTC misses two bar
times), replayed merged by time, 1 BTC of cash, no fees, the Hunter tier's
risk limits, default parameters (those of config/strategies/hunter-pairs-dashltc.yaml).
Once through the backtest command, once through a kernel and driver wired
like it (the same figures), to look at orders and to restart the strategy
mid-position. The golden numbers pin this run.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from genesis.__main__ import main
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import Bar, MarketEvent, OrderFilled
from genesis.core.orders import Order
from genesis.data.loaders import read_bars
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.driver import Driver, merge_streams
from genesis.resources import ALTBTC_5M_BARS
from genesis.risk.limits import Tier
from genesis.strategies.hunter.pairs_trading import PairsTrading, PairsTradingParams
from genesis.testing.builders import RecordingLog, make_venue
from genesis.testing.instruments import lookup

D = Decimal
LEGS = ("DASHBTC", "LTCBTC")
PARAMS = PairsTradingParams()
EVENTS: list[MarketEvent] = list(
    merge_streams(*(read_bars(ALTBTC_5M_BARS[leg], leg) for leg in LEGS))
)
RESTART_AT = 1_515_942_000_000_000_000  # 2018-01-14 15:00 UTC: long DASHBTC since 14:45


def _session(params: PairsTradingParams = PARAMS, legs: tuple[str, ...] = LEGS) -> Driver:
    balances = {"BTC": D(1)}
    strategy = StrategySpec(
        cls=PairsTrading, strategy_id="s1", params=params, instruments=legs,
        requires_stop_loss=True,
    )  # fmt: skip
    spec = SessionSpec(
        instruments=lookup, balances=balances, base_currency="BTC", strategies=[strategy],
        tier=Tier.HUNTER,
    )  # fmt: skip
    return Driver(build_kernel(spec, RecordingLog()), make_venue(balances=balances))


def _strategy(driver: Driver) -> PairsTrading:
    strategy = driver.kernel.strategies["s1"]
    assert isinstance(strategy, PairsTrading)
    return strategy


def _fills(driver: Driver) -> list[tuple[int, str, str, Side, Decimal, Decimal]]:
    return [
        (e.ts_event, e.client_order_id, e.instrument_id, e.side, e.last_qty, e.last_px)
        for e in driver.order_events
        if isinstance(e, OrderFilled)
    ]


def _entries(driver: Driver) -> list[Order]:
    return [o for o in driver.kernel.oms if o.side is Side.BUY]


@pytest.fixture(scope="module")
def month() -> Driver:
    """The 20 days through kernel and driver."""
    driver = _session()
    driver.run(EVENTS)
    driver.finish()
    return driver


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`genesis backtest --strategy pairs_trading --data DASHBTC=... --data LTCBTC=...`.

    Equity is sampled every 5 minutes (``--sample-ms 300000``), once per bar.
    """
    out = tmp_path_factory.mktemp("pairs")
    data = [arg for leg in LEGS for arg in ("--data", f"{leg}={ALTBTC_5M_BARS[leg]}")]
    argv = ["backtest", "--strategy", "pairs_trading", *data, "--cash", "1",
            "--tier", "hunter", "--sample-ms", "300000", "--out", str(out), "--quiet"]  # fmt: skip

    assert main(argv) == 0
    return out


# --- golden figures ---------------------------------------------------------------


def test_backtest_metrics_are_pinned(backtest: Path) -> None:
    """8 round trips, 6 won, +0.113% over the 20 days, 0.10% worst drawdown, every metric pinned."""
    metrics = json.loads((backtest / "metrics.json").read_text())
    names = ("trades", "final_equity", "fees", "rejected_orders", "initial_equity", "days")
    exact = {k: metrics.pop(k) for k in names}

    assert exact == {"trades": 8, "final_equity": "1.00113487154", "fees": "0",
                     "rejected_orders": 0, "initial_equity": "1", "days": 21}  # fmt: skip
    assert metrics == pytest.approx(
        {
            "total_return": 0.00113487154, "annual_return": 0.020915386001685077,
            "sharpe": 2.2813140874252236, "sortino": 3.527392438519775,
            "calmar": 20.477927403407552, "max_drawdown": -0.0010213624450199354,
            "max_drawdown_duration": 616800, "win_rate": 0.75,
            "profit_factor": 2.4416945441622877, "expectancy": 0.00012787267625,
            "exposure": 0.0, "periods_per_year": 105120.0,
            "daily_sharpe": 4.3515121807059804, "daily_sortino": 9.429010103161264,
            "daily_cagr": 0.019909567346627854, "daily_calmar": 28.10729952502159,
            "daily_max_drawdown": -0.000708341522774325, "days_per_year": 365.0,
        },
        rel=1e-9,
    )  # fmt: skip


def test_backtest_trades_are_pinned(backtest: Path) -> None:
    """The eight closed trades: leg bought, entry and exit price, P&L in BTC."""
    with (backtest / "trades.csv").open() as handle:
        rows = [(r["entry_time"], r["quantity"], r["entry_price"], r["exit_price"], r["pnl"])
                for r in csv.DictReader(handle)]  # fmt: skip

    assert rows == [
        ("2018-01-12 16:40:00", "2.343", "0.01706000", "0.01710099", "0.00009603957"),
        ("2018-01-14 14:45:00", "0.535", "0.07470000", "0.075834", "0.00060669000"),
        ("2018-01-20 15:35:00", "2.478", "0.01614888", "0.01625000", "0.00025057536"),
        ("2018-01-20 17:45:00", "2.450", "0.01634000", "0.01648480", "0.00035476000"),
        ("2018-01-21 01:20:00", "0.559", "0.07163347", "0.07215148", "0.00028956759"),
        ("2018-01-21 10:15:00", "0.567", "0.07096222", "0.07120017", "0.00013491765"),
        ("2018-01-23 01:20:00", "2.428", "0.01650288", "0.01636500", "-0.00033477264"),
        ("2018-01-27 02:20:00", "0.577", "0.06961156", "0.068962", "-0.00037479612"),
    ]


def test_kernel_run_matches_the_backtest_command(month: Driver) -> None:
    """Kernel and driver wired by hand end where the command does, one LTCBTC long still open."""
    kernel = month.kernel

    assert kernel.portfolio.equity() == D("1.00113487154")
    assert kernel.portfolio.position_qty("LTCBTC") == D("2.487")
    assert (kernel.denied, kernel.errors) == (0, [])


def test_entries_are_pinned_with_stop_target_and_confidence(month: Driver) -> None:
    """Nine entries (the last still open): leg, size, fill, stop, target and confidence."""
    entries = [(o.instrument_id, o.quantity, o.avg_px, o.stop_loss, o.take_profit,
                round(o.confidence or 0, 4)) for o in _entries(month)]  # fmt: skip

    assert entries == [
        ("LTCBTC", D("2.343"), D("0.01706000"), D("0.016752"), D("0.017514"), 0.9006),
        ("DASHBTC", D("0.535"), D("0.07470000"), D("0.073961"), D("0.075834"), 0.8091),
        ("LTCBTC", D("2.478"), D("0.01614888"), D("0.015701"), D("0.016535"), 0.7695),
        ("LTCBTC", D("2.450"), D("0.01634000"), D("0.015877"), D("0.016805"), 0.879),
        ("DASHBTC", D("0.559"), D("0.07163347"), D("0.070135"), D("0.072860"), 0.9271),
        ("DASHBTC", D("0.567"), D("0.07096222"), D("0.069225"), D("0.071695"), 0.6678),
        ("LTCBTC", D("2.428"), D("0.01650288"), D("0.016157"), D("0.016823"), 0.6701),
        ("DASHBTC", D("0.577"), D("0.06961156"), D("0.068962"), D("0.070260"), 0.9962),
        ("LTCBTC", D("2.487"), D("0.01610001"), D("0.015906"), D("0.016263"), 0.6544),
    ]


def test_exits_by_kind(month: Driver) -> None:
    """Eight exits: six at market when the z-score came back, one target, one stop."""
    exits = Counter(o.order_type for o in month.kernel.oms
                    if o.side is Side.SELL and o.status is OrderStatus.FILLED)  # fmt: skip

    assert exits == {OrderType.MARKET: 6, OrderType.LIMIT: 1, OrderType.STOP_MARKET: 1}


# --- the rules --------------------------------------------------------------------


def test_every_entry_has_its_stop_below_and_target_above(month: Driver) -> None:
    """Stop and target bracket each entry's fill and its confidence clears the Hunter floor."""
    entries = _entries(month)

    assert all(o.stop_loss < o.avg_px < o.take_profit for o in entries)  # type: ignore[operator]
    assert min(o.confidence or 0 for o in entries) >= 0.6


def test_entries_only_while_cointegrated_and_stretched(month: Driver) -> None:
    """Every signal logged an Engle-Granger p below 0.05 and |z| of at least 2."""
    log = month.kernel.log
    assert isinstance(log, RecordingLog)
    reasons = [f["reason"] for _, event, f in log.records
               if event == "signal" and f["side"] == "BUY"]  # fmt: skip
    found = [re.fullmatch(r"(long|short)_spread z=(\S+) p=(\S+)", r) for r in reasons]

    assert len(found) == 9
    assert all(m is not None and abs(float(m[2])) >= 2 and float(m[3]) < 0.05 for m in found)


def test_bar_times_missing_from_one_leg_are_skipped(month: Driver) -> None:
    """5,758 bar times have both legs: DASHBTC's two missing bars are not paired."""
    assert _strategy(month).pairs == 5758


def test_confidence_rises_with_evidence_and_stretch(month: Driver) -> None:
    """0.5 at the threshold p on the entry line; 1 at p = 0; higher with a larger |z|."""
    strategy = _strategy(month)

    values = [strategy.confidence(0.05, -2.0), strategy.confidence(0.0, 3.0),
              strategy.confidence(0.025, 2.0), strategy.confidence(0.025, 4.0)]  # fmt: skip

    assert values == [0.5, 1.0, 0.75, 0.875]


# --- restart ----------------------------------------------------------------------


def test_restart_mid_position_resumes_the_same_trades(month: Driver) -> None:
    """Swapped for a fresh instance restored from its snapshot while long DASHBTC: same fills."""
    driver = _session()
    split = next(i for i, e in enumerate(EVENTS) if isinstance(e, Bar) and e.ts_open >= RESTART_AT)
    driver.run(EVENTS[:split])
    before = _strategy(driver)
    assert driver.kernel.portfolio.position_qty("DASHBTC") == D("0.535")

    restarted = driver.kernel.replace_params("s1", PARAMS)  # on_start, then restore(snapshot)
    driver.run(EVENTS[split:])
    driver.finish()

    assert restarted is not before
    assert _fills(driver) == _fills(month)
    assert driver.kernel.portfolio.equity() == month.kernel.portfolio.equity()


def test_snapshot_is_json_with_the_whole_state(month: Driver) -> None:
    """The snapshot carries tracker, history, p-value and counters, and round-trips."""
    state = json.loads(_strategy(month).snapshot())
    fresh = _strategy(_session())

    fresh.restore(json.dumps(state).encode())

    assert (fresh.pairs, fresh.signals, fresh.pvalue) == (5758, 9, state["pvalue"])
    assert len(state["history"]) == PARAMS.test_window
    assert json.loads(fresh.snapshot()) == state


# --- configuration ----------------------------------------------------------------


def test_one_instrument_disables_the_strategy() -> None:
    """A pair needs two legs: on start the strategy errors and is disabled, nothing else."""
    driver = _session(legs=("DASHBTC",))

    driver.start()

    assert [e.strategy_id for e in driver.kernel.errors] == ["s1"]


@pytest.mark.parametrize(
    "bad",
    [{"exit_z": 2.5}, {"stop_z": 1.5}, {"notional_pct": "0.06"}, {"window": 10}],
)
def test_params_out_of_range_are_refused(bad: dict[str, object]) -> None:
    """z lines out of order, more than the Hunter tier's 5% per entry or a tiny window."""
    with pytest.raises(ValidationError):
        PairsTradingParams.model_validate(bad)
