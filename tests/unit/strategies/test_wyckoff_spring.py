"""wyckoff_spring (AN-8 as a signal) on the bundled month of real BTCUSDT 1-minute bars.

Data: genesis/resources/btcusdt-perp-1m-2022-01.csv.gz (45,031 bars, 2021-12-31
23:01 -> 2022-02-01 05:31 UTC), 1,000 USDT, 10 bps taker fees, the Sniper
tier's limits with a mandatory stop loss. The golden run goes through the CLI
with the default parameters (Kelly live); the property runs drive the same
kernel and venue in memory with Kelly off (``kelly_min_trades=10000``, every
signal sized at the capped prior) so that every signal of the month is traded
and can be checked against an independent analyzer.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from genesis.__main__ import main
from genesis.analytics.wyckoff import WyckoffAnalyzer, WyckoffEvent, WyckoffEventType, WyckoffPhase
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import Bar
from genesis.core.orders import Order
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.sniper.wyckoff_spring import WyckoffSpring, WyckoffSpringParams
from genesis.testing.builders import Harness, real_bars

D = Decimal
E, P = WyckoffEventType, WyckoffPhase
CASH = D(1000)
FEE_BPS = D(10)
MONTH = real_bars()
IN_SAMPLE = 30_000
KELLY_OFF = WyckoffSpringParams(kelly_min_trades=10_000)
CONFIG = Path(__file__).parents[3] / "config" / "strategies" / "sniper-wyckoff-btc.yaml"


def _harness(params: WyckoffSpringParams, strategy: type[WyckoffSpring] = WyckoffSpring) -> Harness:
    """The strategy on BTCUSDT as ``backtest --cash 1000 --fee-bps 10 --tier sniper`` wires it."""
    return Harness.build(
        strategy, params, cash=CASH, tier=Tier.SNIPER, taker_bps=FEE_BPS, requires_stop_loss=True
    )


def _minute(ns: int) -> str:
    return str(pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M"))


def _entries(h: Harness) -> list[Order]:
    return [o for o in h.kernel.oms if o.side is Side.BUY]


def _strategy(h: Harness) -> WyckoffSpring:
    strategy = h.kernel.strategies["s1"]
    assert isinstance(strategy, WyckoffSpring)
    return strategy


# --- the golden run, through the CLI ------------------------------------------------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default run, twice, into two directories."""
    outs = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    for out in outs:
        argv = ["backtest", "--strategy", "wyckoff_spring", "--cash", "1000", "--fee-bps", "10",
                "--tier", "sniper", "--quiet", "--out", str(out)]  # fmt: skip
        assert main(argv) == 0
    return outs


def test_golden_trades_are_pinned(golden: tuple[Path, Path]) -> None:
    """Five round trips, all signs of strength out of an accumulation, one won."""
    with (golden[0] / "trades.csv").open(newline="", encoding="utf-8") as fh:
        trades = list(csv.reader(fh))[1:]

    assert trades == [
        ["2022-01-05 03:17:00", "2022-01-05 11:11:00", "LONG", "0.00042", "46554.0", "46699.0", "0.02173374", "0.03916626"],
        ["2022-01-07 16:27:00", "2022-01-07 23:22:00", "LONG", "0.00048", "41654.0", "41372.0", "-0.17521248", "0.03985248"],
        ["2022-01-08 13:47:00", "2022-01-08 15:04:40", "LONG", "0.00047", "42000.0", "41571.20", "-0.240814464", "0.039278464"],
        ["2022-01-15 23:05:00", "2022-01-15 23:40:00", "LONG", "0.00046", "43293.0", "43140.0", "-0.11013918", "0.03975918"],
        ["2022-01-18 05:12:00", "2022-01-18 08:11:40", "LONG", "0.00047", "42141.0", "41866.50", "-0.168498525", "0.039483525"],
    ]  # fmt: skip


def test_golden_metrics_are_pinned(golden: tuple[Path, Path]) -> None:
    """999.327069091 USDT at the end (-0.067%), 1 win in 5, nothing refused."""
    m = json.loads((golden[0] / "metrics.json").read_text())
    perf = json.loads((golden[0] / "performance.json").read_text())["wyckoff_spring"]

    assert (m["final_equity"], m["fees"], m["trades"], m["rejected_orders"]) == (
        "999.327069091", "0.197539909", 5, 0,
    )  # fmt: skip
    assert (perf["trades"], perf["wins"], perf["fills"]) == (5, 1, 10)
    assert m["total_return"] == pytest.approx(-0.0006729309090000024, rel=1e-9)
    assert m["sharpe"] == pytest.approx(-5.288250809122421, rel=1e-9)
    assert m["sortino"] == pytest.approx(-7.0260987366585, rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(-0.0009187646579337239, rel=1e-9)
    assert m["win_rate"] == pytest.approx(0.2)
    assert m["profit_factor"] == pytest.approx(0.03128666476880128, rel=1e-9)
    assert m["expectancy"] == pytest.approx(-0.13458618179999998, rel=1e-9)
    assert m["exposure"] == pytest.approx(0.02620417046034954, rel=1e-9)


def test_a_rerun_is_byte_identical(golden: tuple[Path, Path]) -> None:
    """Every output file of the second run equals the first, byte for byte."""
    names = sorted(p.name for p in golden[0].iterdir())

    assert "trades.csv" in names
    for name in names:
        assert (golden[0] / name).read_bytes() == (golden[1] / name).read_bytes(), name


def test_kelly_stands_aside_after_the_losing_start() -> None:
    """With Kelly live the record (1 win in 5) has no edge: no entry after the fifth trade."""
    harness = _harness(WyckoffSpringParams()).run(MONTH)

    assert len(_entries(harness)) == 5
    assert _strategy(harness).risk_fraction() == 0
    assert "kelly_no_edge" in harness.kernel.log.events()
    assert harness.kernel.portfolio.equity() == D("999.327069091")


# --- every signal of the month, Kelly off -------------------------------------------


@pytest.fixture(scope="module")
def month() -> Harness:
    return _harness(KELLY_OFF).run(MONTH)


_Reading = tuple[Bar, WyckoffPhase | None, list[WyckoffEvent], WyckoffPhase | None]


def _independent_readings() -> Iterator[_Reading]:
    """Each bar with the phase before it, the events it completed and the phase after it,
    from an analyzer of its own."""
    analyzer = WyckoffAnalyzer()
    for bar in MONTH:
        before = analyzer.phase
        events = analyzer.update_bar(bar)
        yield bar, before, events, analyzer.phase


def _signals(floor: float = 0.6) -> dict[int, WyckoffEvent]:
    """Decision time (bar close) -> the spring or SOS out of an accumulation known at that bar."""
    signals = {}
    for bar, before, events, _ in _independent_readings():
        for e in events:
            entry = e.kind is E.SPRING or (
                e.kind is E.SIGN_OF_STRENGTH and before is P.ACCUMULATION
            )
            if entry and e.confidence >= floor:
                assert e.detected_ts == bar.ts_open  # known at this bar, not before, not after
                signals[bar.ts_event] = e
    return signals


def test_every_entry_is_a_signal_the_analyzer_reported_at_that_bar(month: Harness) -> None:
    """An independent analyzer reported a spring or an SOS out of an accumulation, at or above
    0.6, on the very bar each entry was decided; the order carries the event's confidence."""
    signals = _signals()
    entries = _entries(month)

    assert entries
    for order in entries:
        event = signals[order.ts_init]
        assert order.confidence == event.confidence >= 0.6


def test_every_signal_of_the_month_is_traded(month: Harness) -> None:
    """The month has 13 such signals (11 SOS, 2 springs) and the strategy, flat each time,
    enters on all 13; lower ones (five springs, one SOS) and SOS out of a distribution are not."""
    signals = _signals()
    low = set(_signals(floor=0.0)) - set(signals)

    entered = [o.ts_init for o in _entries(month)]

    assert entered == sorted(signals)
    assert sorted(e.kind.value for e in signals.values()) == ["SOS"] * 11 + ["spring"] * 2
    assert len(low) == 6
    assert not low & set(entered)


def test_entries_are_pinned(month: Harness) -> None:
    """Decision minute, kind, fill, stop and target of each entry."""
    signals = _signals()

    rows = [
        (_minute(o.ts_init), signals[o.ts_init].kind.value, o.avg_px, o.stop_loss, o.take_profit)
        for o in _entries(month)
    ]

    assert rows == [
        ("2022-01-05 03:17", "SOS", D("46554.0"), D("45370.50"), D("48918.00")),
        ("2022-01-07 16:27", "SOS", D("41654.0"), D("40564.00"), D("43834.00")),
        ("2022-01-08 13:47", "SOS", D("42000.0"), D("41571.20"), D("42857.61")),
        ("2022-01-15 23:05", "SOS", D("43293.0"), D("43126.50"), D("43626.00")),
        ("2022-01-18 05:12", "SOS", D("42141.0"), D("41866.50"), D("42690.00")),
        ("2022-01-18 09:22", "spring", D("41622.0"), D("41549.00"), D("41792.00")),
        ("2022-01-18 09:32", "SOS", D("41918.0"), D("41550.00"), D("42654.00")),
        ("2022-01-19 17:02", "SOS", D("42144.0"), D("41617.30"), D("43185.40")),
        ("2022-01-20 23:11", "spring", D("41015.0"), D("40857.00"), D("41645.00")),
        ("2022-01-23 16:10", "SOS", D("35443.0"), D("34957.60"), D("36422.80")),
        ("2022-01-24 14:34", "SOS", D("33850.0"), D("32741.90"), D("36075.20")),
        ("2022-01-26 18:54", "SOS", D("38006.0"), D("37560.60"), D("38896.80")),
        ("2022-01-31 14:32", "SOS", D("37429.0"), D("36712.40"), D("38862.20")),
    ]


def test_a_spring_is_stopped_below_its_low_and_aims_at_resistance() -> None:
    """The 2022-01-18 09:21 spring (low 41,571, range 41,572-41,792): stop 0.1 x 220 below the
    low, target the range's resistance."""
    strategy = _strategy(_harness(KELLY_OFF))
    spring = WyckoffEvent(
        kind=E.SPRING, ts=0, price=41571.0, confidence=0.63, detected_ts=0, phase=P.ACCUMULATION
    )

    stop, target = strategy.entry_levels(spring, 41622.0, (41572.0, 41792.0))

    assert stop == pytest.approx(41549.0)
    assert target == 41792.0


def test_every_exit_is_a_stop_a_target_or_an_analyzer_exit(month: Harness) -> None:
    """Thirteen exits: 5 stops, 2 targets, and 6 market sells each decided on a bar where the
    independent analyzer reported a sign of weakness or an upthrust or read MARKDOWN."""
    exit_bars = {
        bar.ts_event
        for bar, _, events, after in _independent_readings()
        if after is P.MARKDOWN or any(e.kind in (E.SIGN_OF_WEAKNESS, E.UPTHRUST) for e in events)
    }
    exits = [o for o in month.kernel.oms if o.side is Side.SELL and o.status is OrderStatus.FILLED]

    kinds = sorted(o.order_type.value for o in exits)
    market = [o.ts_init for o in exits if o.order_type is OrderType.MARKET]

    assert kinds == ["LIMIT"] * 2 + ["MARKET"] * 6 + ["STOP_MARKET"] * 5
    assert all(ts in exit_bars for ts in market)
    assert month.kernel.portfolio.position_qty("BTCUSDT") == 0


def test_every_entry_has_a_stop_below_and_a_target_above(month: Harness) -> None:
    """Stop < fill < target on each of the 13 entries."""
    assert all(o.stop_loss < o.avg_px < o.take_profit for o in _entries(month))  # type: ignore[operator]


class _Sized(WyckoffSpring):
    """wyckoff_spring recording each entry's notional / equity at its decision close."""

    def on_start(self) -> None:
        super().on_start()
        self.shares: list[Decimal] = []

    def on_bar(self, bar: Bar) -> None:
        signals, equity = self.signals, self.ctx.portfolio.equity()
        super().on_bar(bar)
        if self.signals > signals:
            (entry,) = self.ctx.open_orders(bar.instrument_id)
            self.shares.append(entry.quantity * bar.close / equity)


def test_every_entry_is_within_the_2_percent_notional_cap() -> None:
    """At the capped 2% risk the notional cap binds: each entry is just under 2% of equity."""
    harness = _harness(KELLY_OFF, strategy=_Sized).run(MONTH)
    shares = _strategy(harness).shares  # type: ignore[attr-defined]

    assert len(shares) == 13
    assert D("0.0195") < min(shares)
    assert max(shares) <= D("0.02")
    assert (harness.kernel.denied, harness.venue.rejected, harness.kernel.errors) == (0, 0, [])


def test_a_higher_floor_trades_only_the_surer_signals() -> None:
    """At min_confidence 0.9 only the two SOS above it are traded."""
    harness = _harness(KELLY_OFF.model_copy(update={"min_confidence": 0.9})).run(MONTH)

    assert [_minute(o.ts_init) for o in _entries(harness)] == [
        "2022-01-07 16:27",
        "2022-01-19 17:02",
    ]


# --- in and out of sample (the module docstring's table) ----------------------------


@pytest.mark.parametrize(
    ("params", "bars", "equity", "trades"),
    [
        (WyckoffSpringParams(), MONTH[:IN_SAMPLE], "999.327069091", 5),
        (KELLY_OFF, MONTH[:IN_SAMPLE], "998.641007531", 9),
        (WyckoffSpringParams(), MONTH[IN_SAMPLE:], "1001.836116906", 4),
        (KELLY_OFF, MONTH[IN_SAMPLE:], "1001.836116906", 4),
        (KELLY_OFF, MONTH, "1000.455571689", 13),
    ],
    ids=["in-kelly", "in-off", "out-kelly", "out-off", "month-off"],
)
def test_documented_figures(
    params: WyckoffSpringParams, bars: list[Bar], equity: str, trades: int
) -> None:
    """Each period run on its own ends on the equity and trade count the docstring reports."""
    harness = _harness(params).run(bars)

    assert harness.kernel.portfolio.equity() == D(equity)
    assert harness.kernel.performance.of("s1").trades == trades


# --- restart ------------------------------------------------------------------------


def _until(minute: str) -> int:
    """Index of the bar opening at ``minute`` (UTC): bars before it have been seen."""
    ts = pd.Timestamp(minute, tz="UTC").value
    return next(i for i, b in enumerate(MONTH) if b.ts_open == ts)


@pytest.mark.parametrize(
    ("params", "cut", "held"),
    [
        (KELLY_OFF, "2022-01-24 16:00", "0.00058"),  # long since 14:34, target hit at 18:14
        (WyckoffSpringParams(), "2022-01-07 20:00", "0.00048"),  # long since 16:27, SOW at 23:21
    ],
    ids=["kelly-off", "kelly"],
)
def test_snapshot_restore_mid_position_resumes_exactly(
    params: WyckoffSpringParams, cut: str, held: str
) -> None:
    """Swapped mid-position for a fresh instance restored from its snapshot (the analyzer's
    included), the strategy makes exactly the uninterrupted run's orders to the month's end and
    ends on the same equity."""
    uninterrupted = _harness(params).run(MONTH)
    harness = _harness(params).run(MONTH[: _until(cut)])
    assert harness.kernel.portfolio.position_qty("BTCUSDT") == D(held)
    old = harness.kernel.strategies["s1"]

    new = harness.kernel.replace_params("s1", params)
    harness.run(MONTH[_until(cut) :])

    assert new is not old
    assert [(o.client_order_id, o.status, o.avg_px) for o in harness.kernel.oms] == [
        (o.client_order_id, o.status, o.avg_px) for o in uninterrupted.kernel.oms
    ]
    assert harness.kernel.portfolio.equity() == uninterrupted.kernel.portfolio.equity()
    assert harness.kernel.errors == []


def test_the_snapshot_is_json_with_the_analyzer_state() -> None:
    """The strategy's snapshot is strict JSON (no NaN, no infinity) holding the analyzer's state
    and the parameters' version."""
    harness = _harness(KELLY_OFF).run(MONTH[: _until("2022-01-24 16:00")])

    state = json.loads(_strategy(harness).snapshot(), parse_constant=_refuse)

    assert state["params"] == KELLY_OFF.version_id()
    assert state["analyzers"]["BTCUSDT"]["phase"] == "markup"
    assert state["signals"] == 11


def _refuse(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def test_restore_under_other_params_warms_up_again() -> None:
    """A hot reload that changes a parameter starts the analyzer afresh; the position keeps its
    stop and target while it warms up, and the run goes on without an error."""
    harness = _harness(KELLY_OFF).run(MONTH[: _until("2022-01-24 16:00")])

    new = harness.kernel.replace_params("s1", KELLY_OFF.model_copy(update={"target_r": 3.0}))
    working = sorted(o.order_type.value for o in harness.kernel.oms.open_orders())
    harness.run(MONTH[_until("2022-01-24 16:00") : _until("2022-01-24 17:00")])

    assert working == ["LIMIT", "STOP_MARKET"]
    assert new._analyzers["BTCUSDT"].phase is None  # type: ignore[attr-defined]
    assert harness.kernel.errors == []


# --- registration, config, parameters -----------------------------------------------


def test_registered_for_sniper_and_hunter() -> None:
    """``wyckoff_spring`` resolves to this class, Sniper and Hunter tiers, AN-8."""
    spec = registry.get("wyckoff_spring")

    assert (spec.cls, spec.tiers, spec.spec_ids) == (
        WyckoffSpring, (Tier.SNIPER, Tier.HUNTER), ("AN-8",),
    )  # fmt: skip


def test_the_bundled_config_is_the_golden_run_and_disabled() -> None:
    """The YAML instance is the golden run's parameters on BTCUSDT under Sniper, shipped off."""
    raw = yaml.safe_load(CONFIG.read_text())
    spec = registry.get(raw["strategy"])

    assert (raw["tier"], raw["enabled"], raw["requires_stop_loss"]) == ("sniper", False, True)
    assert raw["instruments"] == ["BTCUSDT"]
    assert registry.parse_params(spec, raw["params"]) == WyckoffSpringParams()


@pytest.mark.parametrize(
    "bad",
    [
        {"max_risk_per_trade": "0.03"},
        {"min_confidence": 1.5},
        {"target_r": 0},
        {"wyckoff": {"lookback": 1}},
        {"wyckoff": {"x": 1}},
        {"x": 1},
    ],
)
def test_bad_parameters_are_rejected(bad: dict[str, object]) -> None:
    """Risk above 2%, a confidence floor above 1, a zero target, bad analyzer keys: refused."""
    with pytest.raises(ValidationError):
        WyckoffSpringParams(**bad)
