"""smart_router (ST-X5): a parent order worked across venues, dark pool first, then the
router's cheapest lit split.

Golden backtests run as the CLI runs them, on the bundled 2022-12-13 BTCUSD quote bars of
Binance and Bybit (one quote a minute, sizes in contracts read as BTC, lots of 1: the
instruments inferred from the files), with a dark pool pegged to Binance's quotes
(``--data dark:BTCUSD=<binance quotes>``, the default model: p 0.3, up to half the lit top,
seed 0). One fee for every venue (a multi-venue backtest charges ``--fee-bps`` everywhere),
5 bps, which the strategy's ``fee_bps`` matches. The parent: buy 60 BTC over an hour from
00:01, 12,000,000 USD split evenly between the venues, Strategist limits. Binance and Bybit
both stop quoting from 00:58 to 01:01, so the last step finds no fresh quote and the parent
ends short, saying so.

Scenario tests drive the kernel directly on synthetic quotes where the depth binds.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
from pydantic import ValidationError

from genesis.__main__ import main
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import MarketEvent, OrderFilled, QuoteTick
from genesis.core.instruments import Instrument, InstrumentTable
from genesis.data.loaders import read_quote_bars
from genesis.data.sources import instruments_for, open_sources, parse_data_arg
from genesis.exchange.darkpool import DarkPoolModel, DarkPoolVenue, simulated_venue
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES, BYBIT_BTCUSD_1M_QUOTES
from genesis.risk.config import parse_risk_config
from genesis.risk.limits import Tier
from genesis.strategies.strategist.smart_router import SmartRouterParams, SmartRouterStrategy
from genesis.testing.builders import RecordingLog
from genesis.testing.instruments import instrument_table

D = Decimal
MINUTE: Final = 60_000_000_000
LIT = ["--data", f"binance:BTCUSD={BINANCE_BTCUSD_1M_QUOTES}"]
LIT += ["--data", f"bybit:BTCUSD={BYBIT_BTCUSD_1M_QUOTES}"]
DARK = ["--data", f"dark:BTCUSD={BINANCE_BTCUSD_1M_QUOTES}"]
RUN = [
    "backtest", "--strategy", "smart_router", "--tier", "strategist", "--cash", "12000000",
    "--fee-bps", "5", "--param", "side=buy", "--param", "quantity=60",
    "--param", "horizon_s=3600", "--param", "fee_bps=5", "--quiet",
]  # fmt: skip


def _backtest(out: Path, data: list[str]) -> dict[str, Any]:
    assert main([*RUN, *data, "--out", str(out)]) == 0
    with (out / "fills.csv").open(newline="", encoding="utf-8") as fh:
        fills = list(csv.DictReader(fh))
    with (out / "tca.csv").open(newline="", encoding="utf-8") as fh:
        tca = list(csv.DictReader(fh))
    return {"fills": fills, "tca": tca, "metrics": json.loads((out / "metrics.json").read_text())}


def _by_venue(fills: list[dict[str, str]]) -> dict[str, tuple[int, Decimal, Decimal]]:
    """venue -> (fills, quantity, average price)."""
    rows: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0), D(0)])
    for f in fills:
        row = rows[f["venue"]]
        row[0] += 1
        row[1] += D(f["quantity"])
        row[2] += D(f["quantity"]) * D(f["price"])
    return {v: (int(n), q, (c / q).quantize(D("0.0001"))) for v, (n, q, c) in sorted(rows.items())}


@pytest.fixture(scope="module")
def with_dark(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Binance, Bybit and the dark pool."""
    return _backtest(tmp_path_factory.mktemp("sor-dark"), [*LIT, *DARK])


@pytest.fixture(scope="module")
def lit_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Binance and Bybit only."""
    return _backtest(tmp_path_factory.mktemp("sor-lit"), LIT)


# --- the golden backtests ---------------------------------------------------------------------


def test_fills_per_venue_with_the_dark_pool(with_dark: dict[str, Any]) -> None:
    """56 of 60 BTC: 38 on Bybit (the cheaper venue most minutes), 12 on Binance, 6 in the dark
    pool at Binance's mid."""
    assert _by_venue(with_dark["fills"]) == {
        "SIM-BINANCE": (12, D(12), D("17161.0833")),
        "SIM-BYBIT": (27, D(38), D("17173.7237")),
        "SIM-DARK": (5, D(6), D("17184.2667")),
    }


def test_fills_per_venue_on_the_lit_venues_only(lit_only: dict[str, Any]) -> None:
    """Without the pool: 57 BTC, 33 on Bybit and 24 on Binance."""
    assert _by_venue(lit_only["fills"]) == {
        "SIM-BINANCE": (21, D(24), D("17169.7500")),
        "SIM-BYBIT": (27, D(33), D("17173.0000")),
    }


def test_the_parent_ends_short_and_says_why(with_dark: dict[str, Any]) -> None:
    """The TCA row: 56 of 60 at 17,172.14 (-20.58 bps vs arrival: the price fell); the last
    step found no quote younger than 120 s (both venues paused 00:58-01:01)."""
    (row,) = with_dark["tca"]

    assert (row["algo"], row["side"], row["quantity"], row["filled"]) == ("sor", "BUY", "60", "56")
    assert (row["start"], row["end"]) == ("2022-12-13 00:02:00", "2022-12-13 01:02:00")
    assert row["average_price"] == "17172.1446428571"
    assert row["slippage_arrival_bps"] == "-20.5755"
    assert row["reason"] == (
        "horizon ended: 56 of 60 filled; no lit venue quoted within 120 s at step 59"
    )


def test_every_lit_fill_is_at_the_cheapest_fresh_ask_and_every_dark_fill_at_the_mid(
    with_dark: dict[str, Any],
) -> None:
    """Recomputed from the quote files: a lit fill at time T is at the lowest ask (equal fees,
    so the lowest all-in price) among the venues' last quotes before T that are at most 120 s
    old, on the venue that quoted it; a dark fill is at Binance's mid then, no higher."""
    quotes = {
        "SIM-BINANCE": list(read_quote_bars(BINANCE_BTCUSD_1M_QUOTES, "BTCUSD")),
        "SIM-BYBIT": list(read_quote_bars(BYBIT_BTCUSD_1M_QUOTES, "bybit:BTCUSD")),
    }
    for fill in with_dark["fills"]:
        ts = _ns(fill["time"])
        last = {v: max((q for q in qs if q.ts_init < ts), key=_seen) for v, qs in quotes.items()}
        fresh = {v: q for v, q in last.items() if ts - q.ts_init <= 2 * MINUTE}
        best = min(q.ask for q in fresh.values())
        if fill["venue"] == "SIM-DARK":
            binance = last["SIM-BINANCE"]
            assert D(fill["price"]) == (binance.bid + binance.ask) / 2 <= best
        else:
            assert D(fill["price"]) == fresh[fill["venue"]].ask == best


def _ns(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def _seen(quote: QuoteTick) -> int:
    return quote.ts_init


def test_a_rerun_writes_the_same_bytes(with_dark: dict[str, Any], tmp_path: Path) -> None:
    """Seeded pool, ordered merge: the same run twice gives identical outputs."""
    again = _backtest(tmp_path, [*LIT, *DARK])

    assert again == with_dark


# --- the session, driven directly --------------------------------------------------------------

PARENT: Final = SmartRouterParams(side=Side.BUY, quantity=D(60), horizon_s=3600, fee_bps=D(5))


def _day_events() -> list[MarketEvent]:
    specs = [parse_data_arg(arg) for arg in (*LIT[1::2], *DARK[1::2])]
    return list(open_sources(specs))


def _day_session() -> tuple[Kernel, Driver]:
    """The golden run's session, wired as ``backtest`` wires it."""
    specs = [parse_data_arg(arg) for arg in (*LIT[1::2], *DARK[1::2])]
    found = instruments_for(specs, instrument_table())
    accounts = {v: {"USD": D(4_000_000)} for v in ("binance", "bybit", "dark")}
    fees = FeeModel(D(5), D(5))
    venues = {
        v: simulated_venue(v, instruments=found.table.get, balances=b, fees=fees, name=v)
        for v, b in accounts.items()
    }
    strategy = StrategySpec(
        cls=SmartRouterStrategy, strategy_id="sor", params=PARENT,
        instruments=found.instrument_ids,
    )  # fmt: skip
    spec = SessionSpec(
        instruments=found.table.get, balances={"USD": D(12_000_000)}, base_currency="USD",
        strategies=[strategy], tier=Tier.STRATEGIST, venue_balances=accounts,
    )  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    return kernel, Driver(kernel, venues)


def _fills(driver: Driver) -> list[tuple[int, str, Decimal, Decimal]]:
    return [
        (f.ts_init, f.instrument_id, f.last_qty, f.last_px)
        for f in driver.order_events
        if isinstance(f, OrderFilled)
    ]


@pytest.fixture(scope="module")
def day() -> tuple[Kernel, Driver]:
    kernel, driver = _day_session()
    driver.run(_day_events())
    driver.finish()
    return kernel, driver


def test_the_direct_session_matches_the_cli_run(day: tuple[Kernel, Driver]) -> None:
    """44 fills, 56 BTC, as the CLI run."""
    _, driver = day

    fills = _fills(driver)

    assert (len(fills), sum(q for _, _, q, _ in fills)) == (44, D(56))


def test_children_are_ioc_limits_of_the_parent_with_confidence_one(
    day: tuple[Kernel, Driver],
) -> None:
    """Every order: an IOC limit, confidence 1.0, the parent's id as correlation id."""
    kernel, _ = day
    orders = list(kernel.oms)

    assert {(o.order_type, o.time_in_force, o.confidence) for o in orders} == {
        (OrderType.LIMIT, TimeInForce.IOC, 1.0)
    }
    assert {o.correlation_id for o in orders} == {"sor-P1-1670889720000000000"}
    assert kernel.denied == 0


def test_the_schedule_is_never_overshot(day: tuple[Kernel, Driver]) -> None:
    """After every fill, the filled quantity is within the straight line of the step that
    sent it: quantity x (k + 1) / 60."""
    _, driver = day
    start, filled = 1_670_889_660_000_000_000, D(0)  # 00:01, the first quote
    for ts, _, qty, _ in _fills(driver):
        filled += qty
        step = (ts - start - 1) // MINUTE  # the step whose timer sent it
        assert filled <= D(60) * (step + 1) / 60


def test_a_restart_from_a_snapshot_resumes_the_same_fills(day: tuple[Kernel, Driver]) -> None:
    """Swapped at 00:30 for a new instance restored from its snapshot: the same fills."""
    events = _day_events()
    half = 1_670_891_400_000_000_000  # 00:30
    kernel, driver = _day_session()
    driver.run(e for e in events if e.ts_init <= half)
    old = kernel.strategies["sor"]

    new = kernel.replace_params("sor", PARENT)  # a new instance: on_start, then restore
    driver.run(e for e in events if e.ts_init > half)
    driver.finish()

    assert new is not old
    assert _fills(driver) == _fills(day[1])


def test_the_snapshot_round_trips(day: tuple[Kernel, Driver]) -> None:
    """restore(snapshot()) into a fresh instance gives back the same snapshot."""
    kernel, _ = _day_session()
    kernel.start()
    fresh = kernel.strategies["sor"]
    state = day[0].strategies["sor"].snapshot()

    fresh.restore(state)

    assert fresh.snapshot() == state


# --- scenarios on synthetic quotes ---------------------------------------------------------------


def _inst(venue: str) -> Instrument:
    return Instrument(
        symbol="BTCUSD", base="BTC", quote="USD", tick_size=D("0.1"), step_size=D("0.001"),
        venue=venue.upper(),
    )  # fmt: skip


TABLE: Final = InstrumentTable([_inst("a"), _inst("b"), _inst("dark")])


def _quote(venue: str, ts: int, bid: str, ask: str, size: str = "100") -> QuoteTick:
    return QuoteTick(
        ts_event=ts, ts_init=ts, instrument_id=f"{venue}:BTCUSD",
        bid=D(bid), ask=D(ask), bid_size=D(size), ask_size=D(size),
    )  # fmt: skip


# these scenarios quote 0.3% wide markets: the Strategist's 0.1% expected-slippage limit
# (RK-1) would refuse a sell from flat that takes the bid, so it is widened here
WIDE_QUOTES = parse_risk_config("tiers: {strategist: {max_slippage_pct: '0.01'}}", "test")


def _scenario(
    params: SmartRouterParams,
    minutes: list[list[QuoteTick]],
    *,
    fees: dict[str, str] | None = None,
    base: str = "0",
    model: DarkPoolModel | None = None,
) -> tuple[Kernel, Driver]:
    """Venues a, b (and the dark pool when quoted), 100,000 USD (and ``base`` BTC) each."""
    fees = fees or {}
    names = sorted({q.instrument_id.partition(":")[0] for qs in minutes for q in qs})
    accounts = {v: {"USD": D(100_000), "BTC": D(base)} for v in names}
    venues: dict[str, SimulatedVenue | DarkPoolVenue] = {}
    for v in names:
        fee = FeeModel(D(fees.get(v, "0")), D(fees.get(v, "0")))
        if v == "dark":
            venues[v] = DarkPoolVenue(
                instruments=TABLE.get, balances=accounts[v], fees=fee, model=model
            )
        else:
            venues[v] = SimulatedVenue(instruments=TABLE.get, balances=accounts[v], fees=fee)
    strategy = StrategySpec(
        cls=SmartRouterStrategy, strategy_id="sor", params=params,
        instruments=tuple(f"{v}:BTCUSD" for v in names),
    )  # fmt: skip
    total = {"USD": D(100_000) * len(names), "BTC": D(base) * len(names)}
    spec = SessionSpec(
        instruments=TABLE.get, balances=total, base_currency="USD", strategies=[strategy],
        tier=Tier.STRATEGIST, venue_balances=accounts, risk=WIDE_QUOTES,
    )  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    driver = Driver(kernel, venues)
    driver.run(q for qs in minutes for q in qs)
    driver.finish()
    return kernel, driver


def _minutes(n: int, *rows: tuple[str, str, str, str]) -> list[list[QuoteTick]]:
    """``n`` minutes of the same quotes: (venue, bid, ask, size) per venue."""
    return [[_quote(v, i * MINUTE, bid, ask, size) for v, bid, ask, size in rows] for i in range(n)]


def _split(driver: Driver) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for _, iid, qty, _ in _fills(driver):
        out[iid] += qty
    return dict(out)


def _reason(kernel: Kernel) -> str | None:
    """The reason the strategy logged when it finished its parent (None: complete)."""
    records = kernel.log.records
    reason = next(fields for _, event, fields in records if event == "parent_finished")["reason"]
    return None if reason is None else str(reason)


def test_when_the_cheap_top_is_short_one_step_splits_across_venues() -> None:
    """a shows 2 at 100.0, b 100 at 100.1: a one-step parent of 10 takes a's 2, then 8 on b."""
    params = SmartRouterParams(side="buy", quantity=D(10), horizon_s=60)

    kernel, driver = _scenario(
        params, _minutes(3, ("a", "99.9", "100.0", "2"), ("b", "100", "100.1", "100"))
    )

    assert sorted(_fills(driver))[0][0] == sorted(_fills(driver))[-1][0]  # in the same step
    assert _split(driver) == {"a:BTCUSD": D(2), "b:BTCUSD": D(8)}
    assert _reason(kernel) is None  # complete


def test_the_fee_decides_between_close_prices() -> None:
    """a's 100.0 costs 100.2 all-in at 20 bps, b's 100.1 at 0 bps: everything goes to b."""
    params = SmartRouterParams(
        side="buy", quantity=D(3), horizon_s=180, venue_fee_bps={"a": D(20), "b": D(0)}
    )

    _, driver = _scenario(
        params, _minutes(5, ("a", "99.9", "100.0", "100"), ("b", "100", "100.1", "100")),
        fees={"a": "20"},
    )  # fmt: skip

    assert _split(driver) == {"b:BTCUSD": D(3)}


def test_a_sell_takes_the_best_bids_first() -> None:
    """Selling 4 held BTC: b's bid 100.0 (1 shown) first, then a's 99.9."""
    params = SmartRouterParams(side="SELL", quantity=D(4), horizon_s=60)

    _, driver = _scenario(
        params, _minutes(3, ("a", "99.9", "100.2", "10"), ("b", "100.0", "100.3", "1")), base="5"
    )

    assert _split(driver) == {"a:BTCUSD": D(3), "b:BTCUSD": D(1)}


def test_the_dark_pool_gets_the_first_look_at_its_mid() -> None:
    """p = 1 and a deep reference top: at the first of two steps half the slice (1 of 2) goes
    to the pool and fills at its reference mid (100.05), under the lit ask (100.1); the rest
    goes lit, and the last step is all lit."""
    params = SmartRouterParams(side="buy", quantity=D(4), horizon_s=120)
    quotes = _minutes(
        4, ("a", "100.0", "100.1", "100"), ("b", "100.0", "100.2", "100"),
        ("dark", "100.0", "100.1", "100000"),
    )  # fmt: skip

    kernel, driver = _scenario(params, quotes, model=DarkPoolModel(p=1.0))

    assert _split(driver) == {"dark:BTCUSD": D(1), "a:BTCUSD": D(3)}
    assert {px for _, iid, _, px in _fills(driver) if iid == "dark:BTCUSD"} == {D("100.05")}
    assert _reason(kernel) is None


def test_the_dark_pool_is_skipped_when_its_mid_is_dearer_than_the_lit_market() -> None:
    """The pool pegs to a feed whose mid (101.05) is above the lit ask (100.1): no dark order."""
    params = SmartRouterParams(side="buy", quantity=D(4), horizon_s=120)
    quotes = _minutes(4, ("a", "100.0", "100.1", "100"), ("dark", "101.0", "101.1", "100"))

    kernel, driver = _scenario(params, quotes, model=DarkPoolModel(p=1.0))

    assert _split(driver) == {"a:BTCUSD": D(4)}
    assert all(o.instrument_id == "a:BTCUSD" for o in kernel.oms)


def test_a_parent_short_of_liquidity_says_so() -> None:
    """Tops of 1 and 1, a parent of 10 in one step: 2 fill, the reason names the depth."""
    params = SmartRouterParams(side="buy", quantity=D(10), horizon_s=60)

    kernel, driver = _scenario(
        params, _minutes(3, ("a", "99.9", "100.0", "1"), ("b", "100", "100.1", "1"))
    )

    assert sum(_split(driver).values()) == D(2)
    assert _reason(kernel) == (
        "horizon ended: 2 of 10 filled; the visible depth (in whole lots) was short by 8 at step 0"
    )


def test_a_parent_beyond_the_tier_cap_says_risk_refused_it() -> None:
    """300 BTC (30,000 USD) on 200,000 USD of equity: the 10% cap denies the children."""
    params = SmartRouterParams(side="buy", quantity=D(300), horizon_s=60)

    kernel, driver = _scenario(
        params, _minutes(3, ("a", "99.9", "100.0", "1000"), ("b", "100", "100.1", "1000"))
    )

    assert _fills(driver) == []
    assert "risk denied a child (MAX_POSITION_SIZE" in str(_reason(kernel))


# --- parameters --------------------------------------------------------------------------------


def test_command_line_forms_of_the_mappings_are_accepted() -> None:
    """``venue_fee_bps=binance:5,bybit:6``, ``dark_venues=dark,pool`` and ``side=buy``."""
    params = SmartRouterParams.model_validate(
        {"side": "buy", "quantity": "1", "horizon_s": "60", "venue_fee_bps": "binance:5,bybit:6",
         "dark_venues": "dark,pool"}
    )  # fmt: skip

    assert params.side is Side.BUY
    assert params.venue_fee_bps == {"binance": D(5), "bybit": D(6)}
    assert params.dark_venues == ("dark", "pool")


def test_a_step_longer_than_the_horizon_is_refused() -> None:
    """step_s above horizon_s is a configuration error."""
    with pytest.raises(ValidationError, match="step_s 120 exceeds horizon_s 60"):
        SmartRouterParams(side="buy", quantity=D(1), horizon_s=60, step_s=120)


def test_instruments_must_be_one_symbol_with_a_lit_venue() -> None:
    """Only a dark venue: on_start fails and the strategy is disabled."""
    params = SmartRouterParams(side="buy", quantity=D(1), horizon_s=60)

    kernel, _ = _scenario(params, _minutes(2, ("dark", "100", "100.1", "10")))

    assert [e.error_type for e in kernel.errors] == ["ConfigError"]
