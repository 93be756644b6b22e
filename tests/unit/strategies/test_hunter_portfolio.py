"""multi_pair_portfolio (ST-H3) on the six bundled altcoin/BTC series together.

Data: genesis/resources/binance-{ADA,DASH,ETH,LTC,XLM,XMR}BTC-5m-2018-01.csv.gz
(5-minute bars, 2018-01-10 04:55 to 2018-01-30 04:50 UTC; ADABTC lacks 40 bars,
DASHBTC and XMRBTC 2 each), replayed together, bars of one time in that order,
with 1 BTC, the Hunter tier's limits, 10 bps fees and default parameters (those of
config/strategies/hunter-portfolio-altbtc.yaml). The golden run goes through the
CLI; the property runs drive the same kernel, venue and driver in memory so that
what the kernel held at each decision can be read.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from genesis.__main__ import main
from genesis.core.enums import Side
from genesis.core.events import Bar, OrderFilled
from genesis.core.instruments import load_exchange_info
from genesis.data.loaders import read_bars
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.driver import Driver, merge_streams
from genesis.kernel.kernel import Kernel
from genesis.resources import ALTBTC_5M_BARS, EXCHANGE_INFO
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.hunter.portfolio import MultiPairPortfolio, MultiPairPortfolioParams
from genesis.testing.builders import RecordingLog

D = Decimal
IDS = tuple(ALTBTC_5M_BARS)  # the replay order of one bar time: ADA, DASH, ETH, LTC, XLM, XMR
PARAMS = MultiPairPortfolioParams()
CONFIG = Path(__file__).parents[3] / "config" / "strategies" / "hunter-portfolio-altbtc.yaml"
SPLIT_NS = 1_516_424_100 * 10**9  # 2018-01-20 04:55 UTC: the first half ends here
FIVE_MIN_NS = 300 * 10**9


# --- the golden run, through the CLI ------------------------------------------------


def _argv(out: Path) -> list[str]:
    data = [f"--data={symbol}={path}" for symbol, path in ALTBTC_5M_BARS.items()]
    return [
        "backtest", "--strategy", "multi_pair_portfolio", *data, "--cash", "1",
        "--tier", "hunter", "--fee-bps", "10", "--sample-ms", "300000", "--quiet",
        "--out", str(out),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole 20 days run twice into two directories."""
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    assert main(_argv(first)) == 0
    assert main(_argv(second)) == 0
    return first, second


def _fills(out: Path) -> list[dict[str, str]]:
    with (out / "fills.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_golden_figures_are_pinned(golden: tuple[Path, Path]) -> None:
    """53 round trips, 37 won, 1 BTC grows to 1.020342515351447 BTC; nothing refused."""
    metrics = json.loads((golden[0] / "metrics.json").read_text())
    perf = json.loads((golden[0] / "performance.json").read_text())["multi_pair_portfolio"]

    assert (perf["trades"], perf["wins"], perf["fills"]) == (53, 37, 107)
    assert perf["win_rate"] == 0.698113
    assert metrics["final_equity"] == "1.020342515351447"
    assert metrics["rejected_orders"] == 0


def test_a_rerun_is_byte_identical(golden: tuple[Path, Path]) -> None:
    """Every output file of the second run equals the first, byte for byte."""
    names = sorted(p.name for p in golden[0].iterdir())

    assert names == sorted(p.name for p in golden[1].iterdir())
    assert "fills.csv" in names
    for name in names:
        assert (golden[0] / name).read_bytes() == (golden[1] / name).read_bytes(), name


def test_fills_replayed_never_hold_more_than_five_positions(golden: tuple[Path, Path]) -> None:
    """Replaying fills.csv, at most five instruments are ever held; five at the peak."""
    held: dict[str, Decimal] = {}
    peak = 0
    for row in _fills(golden[0]):
        sign = 1 if row["side"] == "BUY" else -1
        held[row["instrument"]] = held.get(row["instrument"], D(0)) + sign * D(row["quantity"])
        assert held[row["instrument"]] >= 0  # long only
        peak = max(peak, sum(1 for qty in held.values() if qty))

    assert peak == 5


def test_the_bundled_config_is_the_golden_run() -> None:
    """The YAML instance trades the six pairs under Hunter with the default parameters."""
    raw = yaml.safe_load(CONFIG.read_text())
    spec = registry.get(raw["strategy"])

    assert (raw["tier"], raw["enabled"], raw["requires_stop_loss"]) == ("hunter", True, True)
    assert tuple(raw["instruments"]) == IDS
    assert registry.parse_params(spec, raw["params"]) == PARAMS


# --- in memory: what the kernel held at each decision -------------------------------


@dataclass(frozen=True)
class _Entry:
    ts_open: int  # the signal bar
    instrument: str
    held: tuple[str, ...]  # held or being opened, as the kernel saw it
    correlations: dict[str, float | None]  # the strategy's own, with each of ``held``
    close: Decimal  # the signal bar's
    notional: Decimal  # quantity x signal close
    equity: Decimal
    daily_vol: float


class _Recorded(MultiPairPortfolio):
    """The strategy, recording each entry it sends and the kernel's state around it."""

    kernel: Kernel

    def on_start(self) -> None:
        super().on_start()
        self.entries: list[_Entry] = []
        self.skip_logs: list[tuple[int, dict[str, Any]]] = []
        self.peak = 0

    def on_bar(self, bar: Bar) -> None:
        held, logged = self._kernel_holdings(), len(self._log.records)
        signals, equity = self.signals, self.ctx.portfolio.equity()
        super().on_bar(bar)
        self.skip_logs += [
            (bar.ts_open, fields)
            for _, event, fields in self._log.records[logged:]
            if event == "portfolio_skip_correlated"
        ]
        if self.signals > signals:
            self._record(bar, held, equity)
        self.peak = max(self.peak, len(self._kernel_holdings()))

    @property
    def _log(self) -> RecordingLog:
        assert isinstance(self.ctx.log, RecordingLog)
        return self.ctx.log

    def _kernel_holdings(self) -> tuple[str, ...]:
        positions = {i for s, i in self.kernel.portfolio.open_position_keys() if s == self.id}
        entries = {o.instrument_id for o in self.kernel.oms.open_orders() if o.side is Side.BUY}
        return tuple(sorted(positions | entries))

    def _record(self, bar: Bar, held: tuple[str, ...], equity: Decimal) -> None:
        (order,) = self.ctx.open_orders(bar.instrument_id)
        reading = self.reading(bar.instrument_id)
        assert reading is not None
        entry = _Entry(
            ts_open=bar.ts_open,
            instrument=bar.instrument_id,
            held=held,
            correlations={other: self.correlation(bar.instrument_id, other) for other in held},
            close=bar.close,
            notional=order.quantity * bar.close,
            equity=equity,
            daily_vol=reading.daily_vol,
        )
        self.entries.append(entry)


@functools.cache
def _bars() -> tuple[Bar, ...]:
    """The six series merged by time; one bar time's bars in IDS order (as the CLI's)."""
    merged = merge_streams(*(read_bars(path, s) for s, path in ALTBTC_5M_BARS.items()))
    return tuple(b for b in merged if isinstance(b, Bar))


def _session(params: MultiPairPortfolioParams, cls: type[MultiPairPortfolio] = _Recorded) -> Driver:
    """Kernel, simulated venue and driver wired as ``backtest --tier hunter --fee-bps 10``."""
    table = load_exchange_info(EXCHANGE_INFO)
    fees = FeeModel(maker_bps=D(10), taker_bps=D(10))
    venue = SimulatedVenue(instruments=table.get, balances={"BTC": D(1)}, fees=fees, name="SIM")
    strategy = StrategySpec(
        cls=cls, strategy_id="p", params=params, instruments=IDS, requires_stop_loss=True
    )
    spec = SessionSpec(
        instruments=table.get, balances={"BTC": D(1)}, base_currency="BTC",
        strategies=[strategy], tier=Tier.HUNTER, fee_rate=fees.worst_rate,
    )  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    if isinstance(kernel.strategies["p"], _Recorded):
        kernel.strategies["p"].kernel = kernel
    return Driver(kernel, venue)


def _recorded(params: MultiPairPortfolioParams, bars: Iterator[Bar] | tuple[Bar, ...]) -> _Recorded:
    driver = _session(params)
    driver.run(bars)
    driver.finish()
    strategy = driver.kernel.strategies["p"]
    assert isinstance(strategy, _Recorded)
    assert driver.kernel.errors == []
    return strategy


@pytest.fixture(scope="module")
def month() -> _Recorded:
    """The whole 20 days in memory, default parameters."""
    return _recorded(PARAMS, _bars())


@functools.cache
def _closes() -> pd.DataFrame:
    """Closes on the full 5-minute grid (NaN where a bar is missing), index = ts_open ns."""
    columns = {
        symbol: pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")["close"]
        for symbol, path in ALTBTC_5M_BARS.items()
    }
    closes = pd.DataFrame(columns)
    grid = pd.date_range(closes.index[0], closes.index[-1], freq="5min")
    closes = closes.reindex(grid)
    closes.index = pd.Index([t.value for t in grid])
    return closes


@functools.cache
def _reference(a: str, b: str, horizon: int, window: int) -> pd.Series:
    """pandas: the rolling correlation of two instruments' ``horizon``-bar log returns over
    the last ``window`` times where both have one (a missing bar drops that time)."""
    returns = np.log(_closes()).diff(horizon)  # NaN unless both ends of the horizon exist
    both = returns[[a, b]].dropna()
    return both[a].rolling(window).corr(both[b])


def _reference_at(a: str, b: str, ts_open: int, p: MultiPairPortfolioParams = PARAMS) -> float:
    """The correlation the strategy could know when ``a``'s bar opened at ``ts_open``
    closed: that bar time counts only if ``b``'s bar for it came first (earlier in IDS)."""
    series = _reference(a, b, p.corr_horizon, p.corr_window)
    seen = series.index <= ts_open if IDS.index(b) < IDS.index(a) else series.index < ts_open
    return float(series[seen].iloc[-1])


def _check_entries(strategy: _Recorded, p: MultiPairPortfolioParams) -> int:
    """Assert the ST-H3 invariants on every entry; return how many had a holding to check."""
    checked = 0
    for entry in strategy.entries:
        assert len(entry.held) < 5, entry
        for other in entry.held:
            expected = _reference_at(entry.instrument, other, entry.ts_open, p)
            assert expected <= p.max_correlation, (entry, other, expected)
            assert entry.correlations[other] == pytest.approx(expected, abs=1e-9)
            checked += 1
    return checked


def test_no_entry_correlates_above_0_7_with_a_holding(month: _Recorded) -> None:
    """54 entries; at each, every instrument held or being opened (as the kernel saw it)
    had a 30-minute return correlation <= 0.7 with it, recomputed by pandas."""
    checked = _check_entries(month, PARAMS)

    assert (len(month.entries), checked) == (54, 29)


def test_correlated_skips_name_the_pair_and_its_value(month: _Recorded) -> None:
    """11 skips, all ADABTC against XLMBTC (the one pair above 0.7 in the month), each
    logged value above the cap and equal to pandas' at that bar."""
    pairs = set()
    for ts_open, fields in month.skip_logs:
        expected = _reference_at(fields["instrument"], fields["other"], ts_open)
        assert fields["correlation"] == pytest.approx(expected, abs=1e-6)
        assert expected > 0.7
        pairs.add(frozenset((fields["instrument"], fields["other"])))

    assert (len(month.skip_logs), month.skips["correlated"]) == (11, 11)
    assert pairs == {frozenset(("ADABTC", "XLMBTC"))}


def test_never_more_than_five_held_or_opening(month: _Recorded) -> None:
    """After every bar the kernel holds or is opening at most five instruments: five at peak."""
    assert month.peak == 5
    assert month.skips["full"] == 1


def test_pair_correlations_skip_missing_bars_like_pandas(month: _Recorded) -> None:
    """At the end, all 15 pair correlations equal pandas' over the aligned returns (ADABTC
    lacks 40 bars: those times, and the returns spanning them, are left out)."""
    for i, a in enumerate(IDS):
        for b in IDS[i + 1 :]:
            series = _reference(a, b, PARAMS.corr_horizon, PARAMS.corr_window)
            assert month.correlation(a, b) == pytest.approx(series.iloc[-1], abs=1e-9), (a, b)


def test_a_tighter_cap_still_holds_on_every_entry() -> None:
    """With max_correlation 0.3 over the first ten days, far more entries are skipped and
    none ever correlates above 0.3 with a holding."""
    params = MultiPairPortfolioParams(max_correlation=0.3)
    strategy = _recorded(params, tuple(b for b in _bars() if b.ts_open < SPLIT_NS))

    checked = _check_entries(strategy, params)

    assert (len(strategy.entries), checked, strategy.skips["correlated"]) == (31, 9, 55)


# --- volatility sizing --------------------------------------------------------------


def _share(entry: _Entry) -> Decimal:
    return entry.notional / entry.equity


def test_entries_are_sized_by_volatility_capped_at_five_percent(month: _Recorded) -> None:
    """Each entry's notional at the signal close is equity x min(0.003 / daily sigma, 5%),
    less at most one quantity step (rounded down); 12 of the 54 hit the cap."""
    table = load_exchange_info(EXCHANGE_INFO)
    capped = 0
    for e in month.entries:
        target = min(PARAMS.target_daily_risk / D(repr(e.daily_vol)), PARAMS.max_position_pct)
        one_step = table.get(e.instrument).step_size * e.close
        assert e.equity * target - one_step < e.notional <= e.equity * target, e
        capped += target == PARAMS.max_position_pct

    assert capped == 12


def test_calmer_instruments_get_larger_positions(month: _Recorded) -> None:
    """Among entries under the cap, the calmer of any two (daily sigma 5% lower or more)
    always got the larger share of equity; ETHBTC's entries average more than XLMBTC's."""
    free = [e for e in month.entries if _share(e) < PARAMS.max_position_pct * D("0.99")]
    for calm in free:
        for wild in free:
            if wild.daily_vol > calm.daily_vol * 1.05:
                assert _share(calm) > _share(wild), (calm, wild)

    def mean_share(instrument: str) -> Decimal:
        shares = [_share(e) for e in month.entries if e.instrument == instrument]
        return sum(shares, D(0)) / len(shares)

    assert len(free) > 20
    assert mean_share("ETHBTC") > mean_share("XLMBTC")


def test_quantity_is_inverse_to_volatility_up_to_the_cap() -> None:
    """At 0.3% daily risk: 10% sigma -> 3% of equity, 6% -> 5%, 3% -> still 5% (the cap)."""
    strategy = _session(PARAMS).kernel.strategies["p"]
    assert isinstance(strategy, MultiPairPortfolio)
    price = D("0.1")

    notionals = [strategy.quantity(D(1), price, vol) * price for vol in (0.10, 0.06, 0.03)]

    assert notionals == [D("0.03"), D("0.05"), D("0.05")]


# --- restart ------------------------------------------------------------------------


def _decisions(driver: Driver) -> list[tuple[Any, ...]]:
    """Every order the strategy sent (id, side, quantity, confidence, reason) and every fill."""
    log = driver.kernel.log
    assert isinstance(log, RecordingLog)
    signals = [
        (f["correlation_id"], f["side"], f["quantity"], f["confidence"], f["reason"])
        for _, event, f in log.records
        if event == "signal"
    ]
    fills = [
        (e.client_order_id, e.last_qty, e.last_px)
        for e in driver.order_events
        if isinstance(e, OrderFilled)
    ]
    return [*signals, *fills]


def test_a_restart_mid_position_resumes_the_same_decisions() -> None:
    """Swapped at the first bar of the second half with a position open for a fresh instance
    restored from the snapshot bytes, the run sends the same orders and gets the same fills
    as an uninterrupted one, to the same final equity."""
    whole = _session(PARAMS, MultiPairPortfolio)
    whole.run(_bars())
    restarted = _session(PARAMS, MultiPairPortfolio)
    restarted.start()
    held_at_cut: set[tuple[str, str]] = set()
    for bar in _bars():
        kernel = restarted.kernel
        if not held_at_cut and bar.ts_open >= SPLIT_NS and kernel.portfolio.open_position_keys():
            held_at_cut = kernel.portfolio.open_position_keys()
            old = kernel.strategies["p"]
            state = old.snapshot()
            new = kernel.replace_params("p", PARAMS)  # a new instance: on_start, restore(bytes)
            assert new is not old
            assert new.snapshot() == state
        restarted.step(bar)

    assert held_at_cut
    assert _decisions(restarted) == _decisions(whole)
    assert restarted.kernel.portfolio.equity() == whole.kernel.portfolio.equity()


def test_other_parameters_warm_up_again_but_keep_the_time_stop(month: _Recorded) -> None:
    """Restored under another z window, the indicators start empty; when each held
    position opened (its time stop) and the counters carry over."""
    state = month.snapshot()
    other = MultiPairPortfolio("p", PARAMS.model_copy(update={"z_window": 20}), month.ctx, IDS)
    other.on_start()

    other.restore(state)

    saved, restored = json.loads(state), json.loads(other.snapshot())
    assert restored["opened"] == saved["opened"] != {}
    assert (other.signals, other.skips) == (month.signals, month.skips)
    assert other.correlation("ADABTC", "XLMBTC") is None


# --- signal and parameters ----------------------------------------------------------


def test_confidence_grows_with_the_dip_and_the_oversold_reading() -> None:
    """0.5 on both thresholds (below the 0.6 floor), 0.75 half way, 1.0 a stdev and ten
    RSI points beyond them."""
    strategy = _session(PARAMS).kernel.strategies["p"]
    assert isinstance(strategy, MultiPairPortfolio)

    values = [strategy.entry_confidence(z, rsi) for z, rsi in ((-1.5, 25.0), (-2.0, 20.0))]

    assert values == [0.5, 0.75]
    assert strategy.entry_confidence(-4.0, 5.0) == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {"max_positions": 6},
        {"max_position_pct": "0.06"},
        {"exit_z": -1.5},
        {"max_correlation": 1.5},
    ],
)
def test_parameters_beyond_the_hunter_limits_are_refused(bad: dict[str, Any]) -> None:
    """More than five positions, more than 5% each, an exit below the entry line, or a
    correlation cap outside [-1, 1] do not validate."""
    with pytest.raises(ValidationError):
        MultiPairPortfolioParams(**bad)


def test_registered_for_the_hunter_tier_as_st_h3() -> None:
    """``multi_pair_portfolio`` resolves to this class, Hunter only, implementing ST-H3."""
    spec = registry.get("multi_pair_portfolio")

    assert (spec.cls, spec.tiers, spec.spec_ids) == (MultiPairPortfolio, (Tier.HUNTER,), ("ST-H3",))
