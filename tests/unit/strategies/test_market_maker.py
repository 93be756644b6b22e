"""market_maker (ST-X4): Avellaneda-Stoikov quotes on the bundled 2024-08-08 BTCUSDT streams.

Data: genesis/resources/binance-spot-btcusdt-streams-2024-08-08.txt.gz (41,249 lines:
a REST snapshot, 3,451 depth diffs at 100 ms, 28,040 bookTicker and 9,757 trade
messages; 23:54:13 to 23:59:59 UTC, the mid falling from 61,837.6 to 61,686.0). The
golden run goes through the CLI (``backtest --latency-ms 1 --cash 100000 --tier
strategist``, default parameters); the other runs drive the same kernel and venue in
memory (``Driver``, 1 ms latency, Strategist limits) so that the strategy's own
counters and every fill can be read.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from genesis import resources
from genesis.__main__ import main
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import MarketEvent, OrderFilled
from genesis.data.book import SharedBooks
from genesis.data.sources import open_events
from genesis.kernel.driver import Driver
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.strategist.market_maker import (
    ASQuote,
    MarketMaker,
    MarketMakerParams,
    avellaneda_stoikov,
)
from genesis.testing.builders import make_kernel, make_venue

D = Decimal
BTC = "BTCUSDT"
DEFAULTS = MarketMakerParams()
CONFIG = Path(__file__).parents[3] / "config" / "strategies" / "strategist-mm-btc.yaml"
CUT = 20_000  # the restart happens after this many events (23:57:32.59, 0.00079 BTC held)


# --- the pricing function -----------------------------------------------------------


def _quote(q: float, widening: float = 1.0) -> ASQuote:
    return avellaneda_stoikov(
        60_000.0, q, 4.0, gamma=0.05, k=1.0, tau=5.0, q_max=10.0, widening=widening
    )


def test_flat_quotes_are_symmetric_around_the_mid() -> None:
    """At zero inventory r = s and delta = gamma sigma2 tau + (2/gamma) ln(1 + gamma/k)."""
    quote = _quote(0.0)
    spread = 0.05 * 4.0 * 5.0 + 2.0 / 0.05 * math.log(1.05)

    assert quote.reservation == 60_000.0
    assert quote.spread == pytest.approx(spread, rel=1e-12)
    assert (quote.bid, quote.ask) == pytest.approx((60_000 - spread / 2, 60_000 + spread / 2))


def test_the_reservation_price_leans_against_the_inventory() -> None:
    """Long inventory lowers r by q gamma sigma2 tau (here 1 USDT a lot), short raises it."""
    long, short = _quote(3.0), _quote(-3.0)

    assert long.reservation == pytest.approx(60_000.0 - 3.0)
    assert short.reservation == pytest.approx(60_000.0 + 3.0)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_quotes_widen_with_inventory(sign: float) -> None:
    """The spread grows strictly with |q| on either side, by half of itself at q_max."""
    spreads = [_quote(sign * q).spread for q in range(11)]

    assert all(a < b for a, b in itertools.pairwise(spreads))
    assert spreads[10] == pytest.approx(2 * spreads[0])


def test_without_the_widening_term_only_the_skew_moves_the_quotes() -> None:
    """Pure A-S: the spread is the same at every inventory, the quotes shift with r."""
    flat, loaded = _quote(0.0, widening=0.0), _quote(5.0, widening=0.0)

    assert loaded.spread == pytest.approx(flat.spread)
    assert loaded.ask - flat.ask == pytest.approx(loaded.reservation - flat.reservation)


# --- the golden run, through the CLI ------------------------------------------------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mm")
    argv = ["backtest", "--strategy", "market_maker", "--data", f"{BTC}={resources.BTCUSDT_STREAMS}",
            "--latency-ms", "1", "--cash", "100000", "--tier", "strategist", "--quiet",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


def _fills_csv(out: Path) -> list[dict[str, str]]:
    with (out / "fills.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_golden_fills_inventory_and_pnl_are_pinned(golden: Path) -> None:
    """287 maker fills (no post-only quote refused on arrival: the kernel reads the book the
    venue matches against), 0.00095 BTC held at the end, 99,998.9080579 USDT: -1.0919421
    marked at the last price, no fees at 0 bps."""
    fills = _fills_csv(golden)
    m = json.loads((golden / "metrics.json").read_text())
    perf = json.loads((golden / "performance.json").read_text())["market_maker"]
    held = sum(D(r["quantity"]) * (1 if r["side"] == "BUY" else -1) for r in fills)

    assert (len(fills), m["rejected_orders"], held) == (287, 0, D("0.00095"))
    assert {r["liquidity"] for r in fills} == {"MAKER"}
    assert (m["final_equity"], m["fees"]) == ("99998.9080579000000000", "0")
    assert (perf["fills"], perf["realized_pnl"], perf["volume"]) == (
        287, "-1.0750701", "8988.5749752",
    )  # fmt: skip


def test_golden_inventory_stays_within_its_bounds_at_every_fill(golden: Path) -> None:
    """Replaying fills.csv, the position is in [min_inventory, max_inventory] after each fill,
    and comes within one quote of both bounds (the limit binds, it is not vacuous)."""
    position, seen = D(0), []
    for row in _fills_csv(golden):
        position += D(row["quantity"]) * (1 if row["side"] == "BUY" else -1)
        seen.append(position)

    assert all(DEFAULTS.min_inventory <= p <= DEFAULTS.max_inventory for p in seen)
    assert (min(seen), max(seen)) == (D("0.00004"), D("0.00995"))


# --- in memory: counters, inventory and spreads, restart, the loss cap -------------------


@pytest.fixture(scope="module")
def events() -> list[MarketEvent]:
    return list(open_events(resources.BTCUSDT_STREAMS, BTC))


class _Recorder(MarketMaker):
    """The strategy, noting (|inventory| in lots, spread) each time the model is evaluated."""

    def on_start(self) -> None:
        super().on_start()
        self.seen: list[tuple[float, float]] = []

    def model(self, mid: Decimal, position: Decimal) -> ASQuote | None:
        quote = super().model(mid, position)
        if quote is not None:
            self.seen.append((abs(float(position)) / float(self.params.order_qty), quote.spread))
        return quote


def _driver(params: MarketMakerParams, cls: type[MarketMaker] = _Recorder) -> Driver:
    """Kernel and venue wired as the CLI wires them: 100,000 USDT, 1 ms, Strategist limits,
    one L2 book shared by the venue and the kernel."""
    books = SharedBooks()
    kernel = make_kernel(tier=Tier.STRATEGIST, start_ns=0, books=books)
    kernel.add_strategy(cls, "mm", params, (BTC,))
    return Driver(kernel, make_venue(latency_ns=1_000_000, books=books))


def _run(driver: Driver, events: list[MarketEvent]) -> Driver:
    if not driver.started:
        driver.clock.advance_to(events[0].ts_init)
    driver.run(events)
    return driver


def _fills(driver: Driver) -> list[tuple[str, Side, Decimal, Decimal, int]]:
    return [
        (e.client_order_id, e.side, e.last_qty, e.last_px, e.ts_event)
        for e in driver.order_events
        if isinstance(e, OrderFilled)
    ]


def _mm(driver: Driver) -> Any:
    return driver.kernel.strategies["mm"]


def _last_mid(driver: Driver) -> Decimal | None:
    book = driver.kernel.market.book(BTC)
    return None if book is None else book.mid()


@pytest.fixture(scope="module")
def whole(events: list[MarketEvent]) -> Driver:
    driver = _run(_driver(DEFAULTS), events)
    driver.finish()
    return driver


def test_quotes_and_fills_are_pinned(whole: Driver) -> None:
    """3,147 quoting steps sent 1,177 quotes and 1,110 cancels for the 287 fills of the CLI run;
    -1.09193735 USDT at the last book mid 61,685.995 (the CLI's equity marks the 0.00095 BTC
    at the last price seen, 61,685.99: -1.0919421)."""
    mm = _mm(whole)
    mid = _last_mid(whole)

    assert (mm.steps, mm.quotes, mm.cancels, mm.fills, mm.rejected) == (3147, 1177, 1110, 287, 0)
    assert (mid, mm.pnl(mid)) == (D("61685.995"), D("-1.09193735"))
    assert len(_fills(whole)) == 287


def test_the_spread_widens_with_inventory_over_the_run(whole: Driver) -> None:
    """Across the run's model evaluations the spread correlates positively with |inventory|:
    0.25, not 1, because sigma2 and k move the spread too (it ranges from 1.8 to 255 USDT;
    the widening term at most doubles it)."""
    lots, spreads = zip(*_mm(whole).seen, strict=True)
    n = len(lots)
    mean_l, mean_s = sum(lots) / n, sum(spreads) / n
    cov = sum((a - mean_l) * (b - mean_s) for a, b in zip(lots, spreads, strict=True))
    var_l = sum((a - mean_l) ** 2 for a in lots)
    var_s = sum((b - mean_s) ** 2 for b in spreads)

    assert len(set(lots)) > 5
    assert cov / math.sqrt(var_l * var_s) == pytest.approx(0.2498, abs=1e-4)


def test_a_restart_mid_run_resumes_exactly(events: list[MarketEvent], whole: Driver) -> None:
    """Swapped mid-run for a fresh instance restored from its snapshot (estimates, cash flow,
    timer), the strategy makes exactly the uninterrupted run's fills and ends on its P&L."""
    driver = _run(_driver(DEFAULTS), events[:CUT])
    held = driver.kernel.portfolio.position_qty(BTC, "mm")
    old = _mm(driver)

    new = driver.kernel.replace_params("mm", DEFAULTS)
    _run(driver, events[CUT:])
    driver.finish()

    assert (new is not old, held) == (True, D("0.00026"))
    assert _fills(driver) == _fills(whole)
    mid = _last_mid(driver)
    assert _mm(driver).pnl(mid) == _mm(whole).pnl(mid)
    assert driver.kernel.errors == []


def test_the_snapshot_is_json_with_the_estimates(events: list[MarketEvent]) -> None:
    """The state is plain JSON: estimators, cash flow as a string, the next step's time."""
    mm = _mm(_run(_driver(DEFAULTS), events[:CUT]))

    state = json.loads(mm.snapshot())

    assert state["params"] == DEFAULTS.version_id()
    assert state["variance"]["count"] > DEFAULTS.warmup_steps
    assert state["depth"]["count"] > DEFAULTS.k_warmup_trades
    assert Decimal(state["cash_flow"]) == mm.cash_flow
    assert state["next_step_ns"] > events[CUT - 1].ts_init


def test_the_loss_cap_flattens_and_stops(events: list[MarketEvent]) -> None:
    """At -0.3 USDT marked to market the quotes go, the position is sold at market, and
    nothing trades after that: the last fill is the taker sell, the strategy is halted."""
    driver = _run(_driver(DEFAULTS.model_copy(update={"max_loss": D("0.3")})), events)
    fills = [e for e in driver.order_events if isinstance(e, OrderFilled)]
    mm = _mm(driver)

    assert (mm.halted, driver.kernel.portfolio.position_qty(BTC, "mm")) == (True, D(0))
    assert [f.liquidity for f in fills].count(LiquiditySide.TAKER) == 1
    assert (fills[-1].liquidity, fills[-1].side) == (LiquiditySide.TAKER, Side.SELL)
    assert driver.kernel.oms.open_orders("mm") == []


def test_a_side_refused_by_risk_waits_for_the_position_to_move(
    events: list[MarketEvent],
) -> None:
    """On 1,000 USDT the Strategist tier caps a position at 100 USDT (~0.0016 BTC): a bid above
    it is refused once per position reached, not at every step (12 refusals in the first
    12,000 events, over 887 quoting steps), and the maker goes on trading (21 fills)."""
    cash = {"USDT": D(1000)}
    books = SharedBooks()
    kernel = make_kernel(tier=Tier.STRATEGIST, start_ns=0, balances=cash, books=books)
    kernel.add_strategy(MarketMaker, "mm", DEFAULTS, (BTC,))
    venue = make_venue(latency_ns=1_000_000, balances=cash, books=books)
    driver = _run(Driver(kernel, venue), events[:12_000])

    assert (kernel.denied, len(_fills(driver)), kernel.errors) == (12, 21, [])


# --- registration, config, parameters -----------------------------------------------


def test_registered_for_strategist() -> None:
    """``market_maker`` resolves to this class, Strategist only, ST-X4."""
    spec = registry.get("market_maker")

    assert (spec.cls, spec.tiers, spec.spec_ids) == (MarketMaker, (Tier.STRATEGIST,), ("ST-X4",))


def test_the_bundled_config_is_the_golden_run_and_enabled() -> None:
    """The YAML instance trades BTCUSDT under Strategist with the default parameters."""
    raw = yaml.safe_load(CONFIG.read_text())
    spec = registry.get(raw["strategy"])

    assert (raw["tier"], raw["enabled"], raw["instruments"]) == ("strategist", True, [BTC])
    assert registry.parse_params(spec, raw["params"]) == DEFAULTS


@pytest.mark.parametrize(
    "bad",
    [
        {"target_inventory": "0.02"},
        {"min_inventory": "0.01", "max_inventory": "0.01", "target_inventory": "0.01"},
        {"gamma": 0},
        {"requote_tolerance": 1},
        {"x": 1},
    ],
)
def test_bad_parameters_are_rejected(bad: dict[str, object]) -> None:
    """A target outside the bounds, bounds too narrow for one quote, gamma 0: refused."""
    with pytest.raises(ValidationError):
        MarketMakerParams(**bad)
