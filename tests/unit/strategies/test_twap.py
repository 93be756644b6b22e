"""twap (ST-X1) and the slicing engine it shares with vwap and shortfall (EX-3), on real data.

Data: the bundled Binance spot BTCUSDT recording of 2024-08-08 23:54:13-23:59:59 UTC
(depth diffs at 100 ms, bookTicker, trades, a REST snapshot). The first event is a depth
diff; the parent starts at the first event with a price, the first quote (23:54:14.087891),
and the book is in sync from the snapshot 0.12 s later, where the first child goes.
In-process runs use the backtest's wiring (kernel, driver, simulated venue, zero latency
unless said) on the real instrument table (step 0.00001 BTC, min notional 10 USDT).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis import resources
from genesis.__main__ import main
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import BookSnapshot, MarketEvent, OrderFilled
from genesis.core.orders import Order
from genesis.errors import ConfigError
from genesis.execution.tca import TcaRecord
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.strategist.parent import ExecutionParams, size_child
from genesis.strategies.strategist.twap import Twap, TwapParams
from genesis.testing.builders import Harness, RecordingLog, make_venue, real_bars
from genesis.testing.instruments import instrument, lookup
from genesis.testing.streams import events, interval_vwap, start_ns

D = Decimal
NS = 1_000_000_000
SID = "twap"


def first_event_at(ts: int) -> int:
    """When the driver fires a timer due at ``ts``: the first event seen at or after it."""
    return next(e.ts_init for e in events() if e.ts_init >= ts)


def until(ts: int) -> tuple[MarketEvent, ...]:
    return tuple(e for e in events() if e.ts_init < ts)


@dataclass
class Run:
    kernel: Kernel
    driver: Driver
    tca: list[TcaRecord]
    log: RecordingLog

    @property
    def strategy(self) -> Any:
        return self.kernel.strategies[SID]

    def children(self) -> list[Order]:
        return [o for o in self.kernel.oms if o.strategy_id == SID]

    def filled(self) -> Decimal:
        return sum((o.filled_qty for o in self.children()), D(0))

    def logged(self, name: str) -> list[dict[str, Any]]:
        return [fields for _, event, fields in self.log.records if event == name]


def run(
    params: ExecutionParams,
    data: tuple[MarketEvent, ...] | None = None,
    *,
    cls: type = Twap,
    cash: str = "2000000",
    base: str = "0",
    tier: Tier | None = None,
    latency_ns: int = 0,
    finish: bool = True,
) -> Run:
    """``cls`` with ``params`` over ``data`` (default: the whole recording), as a backtest."""
    data = events() if data is None else data
    balances = {"USDT": D(cash), "BTC": D(base)}
    tca: list[TcaRecord] = []
    log = RecordingLog()
    spec = SessionSpec(
        instruments=lookup, balances=balances, base_currency="USDT", tier=tier,
        start_ns=data[0].ts_init, tca_sink=tca.append,
    )  # fmt: skip
    kernel = build_kernel(spec, log)
    kernel.add_strategy(cls, SID, params, ("BTCUSDT",))
    driver = Driver(kernel, make_venue(balances=balances, latency_ns=latency_ns))
    driver.run(data)
    if finish:
        driver.finish()
    return Run(kernel, driver, tca, log)


def two_btc(**kw: Any) -> TwapParams:
    return TwapParams(side=kw.pop("side", "BUY"), quantity=D(kw.pop("quantity", "2")),
                      horizon_s=kw.pop("horizon_s", 240), **kw)  # fmt: skip


# --- the golden backtest ----------------------------------------------------------------


def _backtest(tmp_path: Path, *params: str, cash: str = "2000000") -> tuple[list, dict]:
    out = tmp_path / "out"
    argv = ["backtest", "--strategy", "twap", "--data", f"BTCUSDT={resources.BTCUSDT_STREAMS}",
            "--cash", cash, "--tier", "strategist", "--out", str(out), "--quiet"]  # fmt: skip
    for p in params:
        argv += ["--param", p]
    assert main(argv) == 0
    with (out / "fills.csv").open(newline="") as fh:
        fills = [(r["time"], r["side"], r["quantity"], r["price"]) for r in csv.DictReader(fh)]
    with (out / "tca.csv").open(newline="") as fh:
        (tca,) = list(csv.DictReader(fh))
    return fills, tca


def test_golden_buy_two_btc_over_four_minutes(tmp_path: Path) -> None:
    """2 BTC bought in 8 slices of 30 s at the Strategist tier (2,000,000 USDT: 2 BTC is 6.2%
    of equity): 8 IOC children of 0.25 each taking the best ask, average 61,786.1225 against
    an arrival mid of 61,837.635 (-8.33 bps: the market fell) and an interval VWAP of
    61,773.0793 (+2.11 bps), the VWAP computed here from the recording's trades."""
    fills, tca = _backtest(tmp_path, "side=BUY", "quantity=2", "horizon_s=240")

    assert fills == [
        ("2024-08-08 23:54:14.206652", "BUY", "0.25000", "61837.64000000"),
        ("2024-08-08 23:54:44.088085", "BUY", "0.25000", "61855.37000000"),
        ("2024-08-08 23:55:14.133245", "BUY", "0.25000", "61837.89000000"),
        ("2024-08-08 23:55:44.114193", "BUY", "0.25000", "61809.65000000"),
        ("2024-08-08 23:56:14.092705", "BUY", "0.25000", "61762.01000000"),
        ("2024-08-08 23:56:44.099190", "BUY", "0.25000", "61741.33000000"),
        ("2024-08-08 23:57:14.088950", "BUY", "0.25000", "61726.14000000"),
        ("2024-08-08 23:57:44.136735", "BUY", "0.25000", "61718.95000000"),
    ]
    picked = {k: tca[k] for k in ("quantity", "filled", "children", "fills", "start", "end",
              "arrival_price", "average_price", "interval_vwap", "slippage_arrival_bps",
              "slippage_vwap_bps", "reason")}  # fmt: skip
    assert picked == {
        "quantity": "2", "filled": "2", "children": "8", "fills": "8",
        "start": "2024-08-08 23:54:14.087891", "end": "2024-08-08 23:57:44.136735",
        "arrival_price": "61837.635", "average_price": "61786.1225",
        "interval_vwap": "61773.0792945254", "slippage_arrival_bps": "-8.3303",
        "slippage_vwap_bps": "2.1115", "reason": "",
    }  # fmt: skip
    end = first_event_at(start_ns() + 210 * NS)  # the last slice, where the parent completes
    vwap = interval_vwap(start_ns(), end)
    assert round(vwap, 10) == D(tca["interval_vwap"])
    assert round(float((D("61786.1225") - vwap) / vwap) * 1e4, 4) == float(tca["slippage_vwap_bps"])


def test_children_go_on_the_slice_grid_tagged_with_the_parent() -> None:
    """Child k goes at the first event at or after start + k x 30 s (k = 0: at the snapshot,
    the first in-sync book), an IOC limit at the ask it takes, with the parent's id as its
    correlation id and confidence 1.0."""
    r = run(two_btc())
    snapshot = next(e.ts_init for e in events() if isinstance(e, BookSnapshot))
    grid = [snapshot] + [first_event_at(start_ns() + k * 30 * NS) for k in range(1, 8)]

    children = r.children()

    assert [o.ts_init for o in children] == grid
    assert {(o.correlation_id, o.confidence, o.order_type, o.time_in_force) for o in children} == {
        (r.tca[0].parent_id, 1.0, OrderType.LIMIT, TimeInForce.IOC)
    }
    assert r.logged("parent_complete") == [
        {"strategy_id": SID, "parent_id": r.tca[0].parent_id, "filled": "2", "children": 8}
    ]


def test_a_sell_is_worked_the_same_way() -> None:
    """Selling 2 of 5 BTC held: 8 children of 0.25 hitting the bid, complete; the TCA signs
    slippage as a cost to a seller (receiving less than the arrival mid is positive)."""
    r = run(two_btc(side="SELL"), base="5")
    (tca,) = r.tca

    assert [(o.side, o.quantity, o.filled_qty) for o in r.children()] == [
        (Side.SELL, D("0.25000"), D("0.25000"))
    ] * 8
    assert (tca.filled_qty, tca.average_price) == (D(2), D("61786.09806375"))
    assert round(tca.slippage_arrival_bps or 0, 4) == 8.3342
    assert r.kernel.portfolio.balance("BTC") == D(3)


# --- liquidity, risk and catch-up -------------------------------------------------------


def test_a_thin_book_leaves_the_parent_short_and_says_why() -> None:
    """200 BTC with a 1 bp budget: each slice takes only what the asks hold within 1 bp of the
    touch; 94.54247 BTC are bought by the horizon, the parent is finished short with the
    reason logged (parent_incomplete) and in its TCA."""
    r = run(two_btc(quantity="200", max_slippage_bps=1), cash="100000000")
    (tca,) = r.tca
    (short,) = r.logged("parent_incomplete")

    assert tca.filled_qty == r.filled() == D("94.54247")
    assert (short["filled"], short["remaining"]) == ("94.54247", "105.45753")
    assert short["reason"] == tca.reason
    assert tca.reason.startswith("horizon ended: liquidity: the book held ")
    assert tca.end_ns == first_event_at(start_ns() + 240 * NS)


def test_each_child_stays_within_the_slippage_budget() -> None:
    """With a 1 bp budget every child's average price is within 1 bp of the first (best)
    price it took."""
    r = run(two_btc(quantity="200", max_slippage_bps=1), cash="100000000")
    fills: dict[str, list[OrderFilled]] = {}
    for e in r.driver.order_events:
        if isinstance(e, OrderFilled):
            fills.setdefault(e.client_order_id, []).append(e)

    for child in fills.values():
        qty = sum((f.last_qty for f in child), D(0))
        average = sum((f.last_qty * f.last_px for f in child), D(0)) / qty
        assert (average - child[0].last_px) / child[0].last_px * 10_000 <= 1


def test_under_fills_are_caught_up_over_the_slices_left() -> None:
    """Each slice's target is the open quantity over the slices left: what the thin book
    did not give is spread over the rest."""
    r = run(two_btc(quantity="200", max_slippage_bps=1), cash="100000000")
    children = r.children()
    logged = r.logged("child_order")

    done = D(0)
    for k, (child, line) in enumerate(zip(children, logged, strict=True)):
        assert abs(D(line["target"]) - (200 - done) / (8 - k)) < D("1e-8")
        done += child.filled_qty


def test_a_risk_refusal_is_the_reason() -> None:
    """At 1,000,000 USDT the Strategist tier caps the position at 10% (about 1.62 BTC): the
    seventh child is refused, and so is the last; the parent ends at 1.5 BTC saying why."""
    r = run(two_btc(), cash="1000000", tier=Tier.STRATEGIST)
    (tca,) = r.tca

    assert tca.filled_qty == D("1.5")
    assert tca.reason.startswith("horizon ended: risk refused a child: MAX_POSITION_SIZE")


def test_passive_first_then_aggressive() -> None:
    """passive_fraction 0.5: the first four children are post-only bids at the touch, each
    filled as maker by the sellers hitting it within its 30 s; the last four take the ask."""
    r = run(two_btc(passive_fraction=0.5))
    children = r.children()

    passive, aggressive = (True, TimeInForce.GTC), (False, TimeInForce.IOC)
    assert [(o.post_only, o.time_in_force) for o in children] == [passive] * 4 + [aggressive] * 4
    assert [o.filled_qty for o in children] == [D("0.25000")] * 8
    assert r.tca[0].average_price == D("61786.1175")


def test_an_unfilled_passive_child_is_cancelled_and_caught_up() -> None:
    """All passive but the last slice, selling 2 BTC into a falling market: an ask left
    partly unfilled is cancelled at the next slice and its rest spread over the slices left
    (0.25 x 3, then 0.27810 = 1.11229 / 4, ...); the last slice takes the rest at the bid."""
    r = run(two_btc(side="SELL", passive_fraction=1.0), base="5")
    children = r.children()

    assert [(o.quantity, o.filled_qty) for o in children] == [
        (D("0.25000"), D("0.25")), (D("0.25000"), D("0.25")), (D("0.25000"), D("0.10948")),
        (D("0.27810"), D("0.00355")), (D("0.34674"), D("0.34674")), (D("0.34674"), D("0.02966")),
        (D("0.50528"), D("0.50528")), (D("0.50529"), D("0.50529")),
    ]  # fmt: skip
    assert [o.time_in_force for o in children] == [TimeInForce.GTC] * 7 + [TimeInForce.IOC]
    assert (r.tca[0].filled_qty, r.tca[0].reason) == (D(2), "")


# --- never overshoot, always finish -----------------------------------------------------


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    quantity=st.decimals(min_value=D("0.001"), max_value=D("40"), places=5),
    horizon_s=st.integers(min_value=5, max_value=90),
    slices=st.integers(min_value=1, max_value=12),
    side=st.sampled_from(["BUY", "SELL"]),
    passive=st.sampled_from([0.0, 0.5, 1.0]),
    budget=st.sampled_from([0.0, 1.0, 10.0]),
    latency_ms=st.sampled_from([0, 20]),
)
def test_never_overshoots_and_always_finishes(
    quantity: Decimal, horizon_s: int, slices: int, side: str, passive: float,
    budget: float, latency_ms: int,
) -> None:  # fmt: skip
    """After every event, filled + working <= quantity; the parent is finished by the first
    event after its horizon, complete or with a parent_incomplete reason."""
    params = TwapParams(side=side, quantity=quantity, horizon_s=horizon_s, slices=slices,
                        passive_fraction=passive, max_slippage_bps=budget)  # fmt: skip
    data = until(start_ns() + (horizon_s + 2) * NS)
    r = run(params, data[:1], cash="5000000", base="50", latency_ns=latency_ms * 1_000_000)
    for event in data[1:]:
        r.driver.step(event)
        working = sum((o.leaves_qty for o in r.kernel.oms.open_orders(SID)), D(0))
        assert r.filled() + working <= quantity

    assert r.strategy.done
    (tca,) = r.tca
    assert tca.end_ns <= first_event_at(start_ns() + horizon_s * NS)
    if r.filled() < quantity:
        assert [s["reason"] for s in r.logged("parent_incomplete")] == [tca.reason] != [""]


def test_slices_missed_in_a_gap_of_the_data_fold_into_the_next() -> None:
    """1 BTC over 10 minutes in 5 slices on the 1-minute bars, five bars (23:04-23:08) left
    out: the slice-2 timer fires at the next bar, in slice 4's time, so slice 4 of 5 goes
    there with the open 0.8 BTC over the two slices left (0.4 each), as after a restart."""
    params = TwapParams(side="BUY", quantity=D(1), horizon_s=600, slices=5)
    harness = Harness.build(Twap, params, strategy_id=SID, cash=D(1_000_000))
    bars = real_bars(0, 15)

    harness.run(bars[:2] + bars[7:])

    children = [o for o in harness.kernel.oms if o.strategy_id == SID]
    assert [(o.quantity, o.ts_init - bars[0].ts_event) for o in children] == [
        (D("0.20000"), 0), (D("0.40000"), 360 * NS), (D("0.40000"), 480 * NS)
    ]  # fmt: skip
    assert harness.kernel.portfolio.position_qty("BTCUSDT", SID) == D(1)


def test_a_book_out_of_sync_holds_the_slices_and_is_the_reason() -> None:
    """With the recording's events from 40 s to 130 s left out, the depth diffs after the
    gap do not follow on: the book is out of sync to the end (no new snapshot). One child
    goes on the stale book before the gap is seen (slice 5: 1.5 / 4), then the slices wait,
    and the parent ends short saying so."""
    gap = (start_ns() + 40 * NS, start_ns() + 130 * NS)
    r = run(two_btc(), tuple(e for e in events() if not gap[0] <= e.ts_init < gap[1]))

    assert [o.quantity for o in r.children()] == [D("0.25000")] * 2 + [D("0.37500")]
    assert r.tca[0].filled_qty == D("0.875")
    assert r.tca[0].reason == "horizon ended: no book: the L2 book was out of sync"


def test_data_ending_before_the_horizon_is_the_reason() -> None:
    """The session stops 100 s into a 240 s parent (four slices done): the parent is
    finished at the stop as "stopped before the horizon", with filled and remaining logged."""
    r = run(two_btc(), until(start_ns() + 100 * NS))

    assert r.logged("parent_incomplete") == [{
        "strategy_id": SID, "parent_id": r.tca[0].parent_id, "filled": "1",
        "remaining": "1", "reason": "stopped before the horizon",
    }]  # fmt: skip
    assert (r.tca[0].filled_qty, r.tca[0].reason) == (D(1), "stopped before the horizon")


# --- restart ------------------------------------------------------------------------------


def test_a_restore_mid_parent_resumes_exactly() -> None:
    """Swapped for a fresh instance restored from its snapshot 100 s in (after four slices),
    the strategy sends the same children as the uninterrupted run, and nothing twice."""
    whole = run(two_btc())
    cut = until(start_ns() + 100 * NS)
    r = run(two_btc(), cut, finish=False)

    r.kernel.replace_params(SID, two_btc())
    r.driver.run(events()[len(cut) :])
    r.driver.finish()

    assert [(o.client_order_id, o.quantity, o.filled_qty) for o in r.children()] == [
        (o.client_order_id, o.quantity, o.filled_qty) for o in whole.children()
    ]


def test_a_cold_restart_after_downtime_resumes_the_remaining_schedule() -> None:
    """Down from 70 s (three slices done: 0.75 BTC) to 130 s: a new process with the
    portfolio's fills and the strategy's snapshot resumes in slice 5 of 8; the missed slices
    fold into the open 1.25 BTC, spread over the four slices left (0.3125 each)."""
    a = run(two_btc(), until(start_ns() + 70 * NS), finish=False)
    state = a.strategy.snapshot()
    fills = [e for e in a.driver.order_events if isinstance(e, OrderFilled)]
    balances = a.kernel.portfolio.balances()

    log = RecordingLog()
    kernel = build_kernel(SessionSpec(instruments=lookup, balances=balances,
                          base_currency="USDT", start_ns=start_ns()), log)  # fmt: skip
    # another venue name: a fresh simulated venue numbers its trades from 1 again, and the
    # portfolio would take them for the restored fills (a real venue's trade ids are unique)
    driver = Driver(kernel, make_venue(balances=balances, name="SIM2"))
    driver.run(until(start_ns() + 130 * NS))  # the books come back in sync; no strategy yet
    kernel.add_strategy(Twap, SID, two_btc(), ("BTCUSDT",))
    for fill in fills:
        kernel.restore_fill(fill)
    driver.send(kernel.restore_strategy(SID, state))
    driver.run(events()[len(until(start_ns() + 130 * NS)) :])

    resumed = [o for o in kernel.oms if o.strategy_id == SID]
    assert json.loads(state)["slice"] == 2
    assert [o.quantity for o in resumed] == [D("0.31250")] * 4
    assert kernel.portfolio.position_qty("BTCUSDT", SID) == D(2)
    assert [o.ts_init for o in resumed] == [
        first_event_at(start_ns() + 130 * NS),
        *(first_event_at(start_ns() + k * 30 * NS) for k in (5, 6, 7)),
    ]


# --- without a book, the pieces, the registry ----------------------------------------------


def test_on_bars_the_children_are_market_orders() -> None:
    """On the 1-minute bars (no depth): 1 BTC over 10 minutes in 5 slices, each a market order
    of 0.2 filled at the next bar's open, all within the horizon."""
    params = TwapParams(side="BUY", quantity=D(1), horizon_s=600, slices=5)
    harness = Harness.build(Twap, params, strategy_id=SID, cash=D(1_000_000))
    harness.run(real_bars(0, 15))

    children = [o for o in harness.kernel.oms if o.strategy_id == SID]
    assert [(o.order_type, o.filled_qty) for o in children] == [(OrderType.MARKET, D("0.2"))] * 5
    assert harness.kernel.portfolio.position_qty("BTCUSDT", SID) == D(1)


def test_size_child_rounds_caps_and_leaves_no_dust() -> None:
    """Nearest step for a float target, down to the step under a cap, nothing below the
    minimum order (10 USDT at 61,838: 0.00017 BTC), and no remainder below it left behind."""
    inst, px = instrument("BTCUSDT"), D("61838")

    assert size_child(D("1.75"), D("0.24999999999"), None, inst, px) == (D("0.25000"), "")
    assert size_child(D("2"), D("1"), D("0.123456789"), inst, px) == (
        D("0.12345"), "liquidity: the book held 0.12345 within the budget, 1 wanted"
    )  # fmt: skip
    assert size_child(D("2"), D("0.0001"), None, inst, px) == (
        D(0), "0.0001 is below the minimum order 0.00017"
    )  # fmt: skip
    assert size_child(D("0.50010"), D("0.5"), None, inst, px)[0] == D("0.50010")
    assert size_child(D("0.50010"), D("0.5"), D("0.5"), inst, px)[0] == D("0.49993")


def test_registered_for_the_strategist_tier_with_validated_params() -> None:
    """Registered as ``twap`` for the Strategist tier (ST-X1); side is case-insensitive and an
    unknown parameter is refused."""
    spec = registry.get("twap")

    assert (spec.cls, spec.tiers, spec.spec_ids) == (Twap, (Tier.STRATEGIST,), ("ST-X1", "EX-3"))
    params = registry.parse_params(spec, {"side": "sell", "quantity": "1", "horizon_s": 60})
    assert isinstance(params, TwapParams)
    assert params.side is Side.SELL
    with pytest.raises(ConfigError, match="slice: unknown parameter"):
        registry.parse_params(spec, {"side": "BUY", "quantity": "1", "horizon_s": 60, "slice": 3})


def test_a_restore_under_other_params_starts_a_new_parent() -> None:
    """A hot reload that changes the parent finishes the old one ("parameters changed", its
    working children cancelled) and starts the new one at the next event."""
    r = run(two_btc(passive_fraction=1.0), until(start_ns() + 45 * NS), finish=False)

    r.kernel.replace_params(SID, two_btc(quantity="1"))
    r.driver.run(events()[len(until(start_ns() + 45 * NS)) :])
    r.driver.finish()

    old, new = r.tca
    assert (old.quantity, old.reason) == (D(2), "parameters changed")
    assert (new.quantity, new.reason) == (D(1), "")
    assert r.kernel.oms.open_orders(SID) == []


def test_an_algorithm_without_a_schedule_cannot_be_built() -> None:
    """``share`` is the one method an execution algorithm must define: a class without it
    is refused when the kernel constructs it, naming the method."""
    from genesis.strategies.strategist.parent import SlicedExecution
    from genesis.testing.builders import make_kernel

    class NoSchedule(SlicedExecution[ExecutionParams]):
        Params = ExecutionParams

    kernel = make_kernel(start_ns=0)
    params = ExecutionParams(side=Side.BUY, quantity=Decimal(1), horizon_s=60)
    with pytest.raises(TypeError, match="share"):
        kernel.add_strategy(NoSchedule, "x", params, ("BTCUSDT",))
