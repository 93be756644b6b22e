"""Compliance rule sets (RK-6): each rule's code and sentence, exits never trapped, event
time only, and no check added to the engine without a rule set.

Prices are real: GBP/USD opened 2012-02-01 00:00 UTC at 1.57597 (FXCM bid,
``tests/data/gbpusd-1m-2012-02-bid.csv.gz``); BTCUSDT closed 46377.0 on the first
bundled bar. GBPUSD's increments are a retail FX venue's (0.00001, 1 unit).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import AccountingMethod, Side
from genesis.core.events import Bar
from genesis.core.instruments import Instrument
from genesis.core.orders import Order
from genesis.errors import ConfigError
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.portfolio import Portfolio
from genesis.risk.checks import RiskInput
from genesis.risk.compliance import (
    ComplianceCheck,
    ComplianceRules,
    InstrumentClass,
    Session,
    instrument_class,
)
from genesis.risk.config import parse_risk_config
from genesis.risk.engine import RiskEngine
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import (
    Harness,
    RecordingLog,
    fill,
    make_venue,
    order,
    real_bars,
)
from genesis.testing.instruments import instrument, lookup

D = Decimal
GBPUSD = Instrument(
    symbol="GBPUSD", base="GBP", quote="USD", tick_size=D("0.00001"), step_size=D(1)
)
OPEN = D("1.57597")  # GBP/USD bid open, 2012-02-01 00:00 UTC
WED = 1_328_054_400_000_000_000  # 2012-02-01 00:00 UTC, a Wednesday
MIN = 60_000_000_000
SAT = WED + 3 * 1440 * MIN + 12 * 60 * MIN  # 2012-02-04 12:00 UTC, a Saturday


def _lookup(iid: str) -> Instrument:
    return GBPUSD if iid == "GBPUSD" else instrument(iid)


def _portfolio(*fills: tuple[str, Side, str, int]) -> Portfolio:
    """A USD account of 10,000 with (strategy, side, GBP qty, ts) fills at the real open."""
    book = Portfolio(
        _lookup, method=AccountingMethod.FIFO, balances={"USD": D(10_000)}, base_currency="USD"
    )
    for n, (sid, side, qty, ts) in enumerate(fills):
        book.apply_fill(
            fill(side, qty, OPEN, trade_id=f"T{n}", client_order_id=f"{sid}-{n}",
                 fee_currency="USD", strategy_id=sid, instrument_id="GBPUSD", ts=ts)
        )  # fmt: skip
    return book


class _Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _check(rules: ComplianceRules, book: Portfolio, now: int = WED) -> ComplianceCheck:
    check = ComplianceCheck(rules)
    check.attach(book, _lookup, _Clock(now))
    return check


def _fx(side: Side, qty: str, sid: str = "s1", cid: str = "s1-9") -> Order:
    return order(side, qty, strategy_id=sid, instrument_id="GBPUSD", client_order_id=cid)


def _risk(inst: Instrument = GBPUSD, price: Decimal = OPEN, reduce_only: bool = False) -> RiskInput:
    return RiskInput(
        instrument=inst, reference_price=price, equity=D(0), free_quote=D(0), free_base=D(0),
        position_qty=D(0), fee_rate=D(0), tier=None, limits=None, requires_stop_loss=False,
        reduce_only=reduce_only,
    )  # fmt: skip


def test_instrument_class_is_fx_only_for_two_fiat_currencies() -> None:
    """GBPUSD is FX; BTCUSDT and the real EURUSDT (a stablecoin quote) are crypto spot."""
    assert instrument_class(GBPUSD) is InstrumentClass.FX
    assert instrument_class(instrument("BTCUSDT")) is InstrumentClass.CRYPTO_SPOT
    assert instrument_class(instrument("EURUSDT")) is InstrumentClass.CRYPTO_SPOT


def test_session_refuses_every_order_on_a_saturday_with_its_sentence() -> None:
    """Weekday sessions: Saturday 12:00 UTC is refused, even an exit; Wednesday passes."""
    rules = ComplianceRules("us_fx", sessions=(Session(frozenset(range(5)), 0, 1440),))
    book = _portfolio(("s1", Side.BUY, "1000", WED))

    refused = _check(rules, book, SAT).check(_fx(Side.SELL, "1000"), _risk())
    passed = _check(rules, book, WED + MIN).check(_fx(Side.SELL, "1000"), _risk())

    assert refused is not None
    assert refused.code == "COMPLIANCE_SESSION"
    assert refused.message == (
        "order s1-9 on GBPUSD at 2012-02-04 12:00:00 UTC is outside the trading sessions of"
        " rule set us_fx (mon,tue,wed,thu,fri 00:00-24:00 UTC)"
    )
    assert passed is None


def test_session_end_is_exclusive() -> None:
    """A 00:00-22:00 session: 21:59 is inside, 22:00 outside."""
    session = Session(frozenset({2}), 0, 22 * 60)

    assert session.contains(WED + (22 * 60 - 1) * MIN)
    assert not session.contains(WED + 22 * 60 * MIN)


def test_restricted_asset_refuses_entries_but_not_exits() -> None:
    """GBP on the list: a buy is refused naming GBP; selling the held 1,000 passes."""
    rules = ComplianceRules("desk", restricted=frozenset({"GBP"}))
    check = _check(rules, _portfolio(("s1", Side.BUY, "1000", WED)))

    refused = check.check(_fx(Side.BUY, "1000"), _risk())
    exit_ = check.check(_fx(Side.SELL, "1000"), _risk())

    assert refused is not None
    assert (refused.code, refused.message) == (
        "COMPLIANCE_RESTRICTED",
        "entry s1-9 on GBPUSD: GBP is on the restricted list of rule set desk",
    )
    assert exit_ is None


def test_order_rate_counts_event_time_and_forgets_after_the_window() -> None:
    """Two orders per 60 s: the third within the window is refused, one at +60 s passes."""
    clock = _Clock(WED)
    check = ComplianceCheck(ComplianceRules("r", max_orders=2, order_window_s=60))
    check.attach(_portfolio(), _lookup, clock)
    verdicts = []

    for now in (WED, WED + 1, WED + 2, WED + MIN):
        clock.now = now
        verdicts.append(check.check(_fx(Side.BUY, "100"), _risk()))

    assert [v is None for v in verdicts] == [True, True, False, True]
    assert verdicts[2] is not None
    assert verdicts[2].message == "entry s1-9: 2 orders in the last 60 s; rule set r allows 2"


def test_order_rate_does_not_count_a_dry_run() -> None:
    """What-ifs (the engine's dry_run) are never counted: the real order still passes."""
    dry = [True]
    check = ComplianceCheck(ComplianceRules("r", max_orders=1), counting=lambda: not dry[0])
    check.attach(_portfolio(), _lookup, _Clock(WED))

    first = check.check(_fx(Side.BUY, "100"), _risk())
    dry[0] = False
    second = check.check(_fx(Side.BUY, "100"), _risk())
    third = check.check(_fx(Side.BUY, "100"), _risk())

    assert (first, second) == (None, None)
    assert third is not None
    assert third.code == "COMPLIANCE_ORDER_RATE"


def test_no_hedging_refuses_an_opposite_position_in_one_account() -> None:
    """s1 long 1,000 GBP: s2 selling 500 short is refused; s2 buying 500 is not."""
    check = _check(
        ComplianceRules("us_fx", no_hedging=True), _portfolio(("s1", Side.BUY, "1000", WED))
    )

    short = check.check(_fx(Side.SELL, "500", sid="s2", cid="s2-1"), _risk())
    long_ = check.check(_fx(Side.BUY, "500", sid="s2", cid="s2-2"), _risk())

    assert short is not None
    assert (short.code, short.message) == (
        "COMPLIANCE_HEDGING",
        "entry s2-1 would leave s2 at -500 GBPUSD while other strategies hold 1000: rule set"
        " us_fx forbids opposite positions in one account",
    )
    assert long_ is None


def test_fifo_refuses_closing_a_younger_lot_before_an_older_one() -> None:
    """s1 bought first, s2 a minute later: s2's exit is refused, s1's passes."""
    book = _portfolio(("s1", Side.BUY, "1000", WED), ("s2", Side.BUY, "1000", WED + MIN))
    check = _check(ComplianceRules("us_fx", fifo=True), book)

    young = check.check(_fx(Side.SELL, "1000", sid="s2", cid="s2-5"), _risk())
    old = check.check(_fx(Side.SELL, "1000", sid="s1", cid="s1-5"), _risk())

    assert young is not None
    assert (young.code, young.message) == (
        "COMPLIANCE_FIFO",
        "exit s2-5 would close s2's GBPUSD lot opened at 2012-02-01 00:01:00 UTC while s1's"
        " lot opened at 2012-02-01 00:00:00 UTC is older: rule set us_fx closes first in,"
        " first out",
    )
    assert old is None


def test_leverage_cap_per_class_counts_only_that_class() -> None:
    """FX capped at 2x of 10,000 USD: 12,000 GBP (18,911.64) passes, 13,000 (20,487.61)
    does not; the crypto position is not counted in FX's exposure."""
    check = _check(ComplianceRules("us_fx", leverage={InstrumentClass.FX: D(2)}), _portfolio())

    passed = check.check(_fx(Side.BUY, "12000"), _risk())
    refused = check.check(_fx(Side.BUY, "13000"), _risk())

    assert passed is None
    assert refused is not None
    assert (refused.code, refused.message) == (
        "COMPLIANCE_LEVERAGE_CLASS",
        "entry s1-9 on GBPUSD would take fx gross exposure to 20487.61, over 2x equity ="
        " 20000.00 (rule set us_fx)",
    )


def test_engine_adds_no_check_without_a_rule_set() -> None:
    """No rule set, or one with every rule off: the check list is the two base checks."""
    plain = RiskEngine()
    empty = RiskEngine(compliance=ComplianceRules("none"))
    ruled = RiskEngine(compliance=ComplianceRules("r", fifo=True))

    assert len(plain._checks) == 2
    assert plain.compliance is None
    assert empty.compliance is None
    assert ruled.compliance is not None
    assert ruled._checks[-1] == ruled.compliance.check


def test_engine_counts_a_compliance_refusal_by_code() -> None:
    """Through the engine: a restricted BTCUSDT buy is refused and counted by its code."""
    engine = RiskEngine(compliance=ComplianceRules("r", restricted=frozenset({"BTCUSDT"})))
    assert engine.compliance is not None
    engine.compliance.attach(_portfolio(), _lookup, _Clock(WED))
    btc = RiskInput(
        instrument=instrument("BTCUSDT"), reference_price=D("46377.0"), equity=D(0),
        free_quote=D(10_000), free_base=D(0), position_qty=D(0), fee_rate=D(0), tier=None,
        limits=None, requires_stop_loss=False, reduce_only=False,
    )  # fmt: skip

    refusal = engine.check(order(Side.BUY, "0.01"), lambda: btc, WED)

    assert refusal is not None
    assert refusal.code == "COMPLIANCE_RESTRICTED"
    assert engine.rejections == {"COMPLIANCE_RESTRICTED": 1}


_YAML = """\
compliance:
  active: us_fx
  rule_sets:
    us_fx:
      fifo: true
      no_hedging: true
      leverage: {fx: "50", crypto_spot: "1"}
      restricted: [XRPUSDT]
      sessions:
        - {days: [sun], start: "22:00", end: "24:00"}
        - {days: [mon, tue, wed, thu], start: "00:00", end: "24:00"}
        - {days: [fri], start: "00:00", end: "22:00"}
      max_orders: 100
      order_window_s: 60
    none: {}
"""


def test_risk_config_reads_the_active_rule_set() -> None:
    """The YAML's us_fx set becomes the rules, sessions in weekday numbers and minutes."""
    rules = parse_risk_config(_YAML, "risk.yaml").compliance_rules()

    assert rules == ComplianceRules(
        name="us_fx", fifo=True, no_hedging=True,
        leverage={InstrumentClass.FX: D(50), InstrumentClass.CRYPTO_SPOT: D(1)},
        restricted=frozenset({"XRPUSDT"}),
        sessions=(
            Session(frozenset({6}), 1320, 1440),
            Session(frozenset({0, 1, 2, 3}), 0, 1440),
            Session(frozenset({4}), 0, 1320),
        ),
        max_orders=100, order_window_s=60,
    )  # fmt: skip


def test_risk_config_without_active_set_has_no_rules() -> None:
    """Rule sets defined but none active (or the active one empty): no compliance."""
    assert (
        parse_risk_config(_YAML.replace("active: us_fx", 'active: ""'), "r").compliance_rules()
        is None
    )
    assert (
        parse_risk_config(_YAML.replace("active: us_fx", "active: none"), "r").compliance_rules()
        is None
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            _YAML.replace("active: us_fx", "active: eu"),
            "r.yaml:2: compliance.active: Value error, rule set 'eu' is not defined"
            " (defined: none, us_fx) (was 'eu')",
        ),
        (
            _YAML.replace('start: "22:00"', 'start: "25:00"'),
            "r.yaml:9: compliance.rule_sets.us_fx.sessions.0.start: String should match pattern"
            " '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$' (was '25:00')",
        ),
        (
            _YAML.replace("crypto_spot:", "futures:"),
            "r.yaml:7: compliance.rule_sets.us_fx.leverage.futures: Input should be 'crypto_spot'"
            " or 'fx' (was 'futures')",
        ),
    ],
)
def test_bad_compliance_section_names_line_and_field(bad: str, message: str) -> None:
    """An unknown active set, a bad time or an unknown class: ConfigError with line and field."""
    with pytest.raises(ConfigError) as raised:
        parse_risk_config(bad, "r.yaml")

    assert str(raised.value) == message


class _Buyer(Strategy[StrategyParams]):
    """Buys 0.01 BTC at market on its first bar."""

    def on_bar(self, bar: Bar) -> None:
        if not self.ctx.portfolio.position_qty(bar.instrument_id):
            self.ctx.submit(self.ctx.orders.market(bar.instrument_id, Side.BUY, "0.01"))


def test_kernel_denies_an_order_on_a_restricted_instrument() -> None:
    """Built from a risk config whose active set restricts BTCUSDT, the kernel denies the
    strategy's buy on the real first bar with the compliance code and sends nothing."""
    config = parse_risk_config(
        "compliance: {active: desk, rule_sets: {desk: {restricted: [BTCUSDT]}}}", "r.yaml"
    )
    spec = SessionSpec(
        instruments=lookup, balances={"USDT": D(100_000)}, base_currency="USDT", start_ns=0,
        risk=config,
    )  # fmt: skip
    log = RecordingLog()
    harness = Harness(build_kernel(spec, log), make_venue())
    harness.kernel.add_strategy(_Buyer, "s1", StrategyParams(), ("BTCUSDT",))

    harness.run(real_bars(0, 1))

    denied = [fields for _, event, fields in log.records if event == "order_denied"]
    assert [(d["code"], d["reason"]) for d in denied] == [
        (
            "COMPLIANCE_RESTRICTED",
            "entry s1-1640991720000000000-1 on BTCUSDT: BTCUSDT is on the restricted list of"
            " rule set desk",
        )
    ]
    assert harness.kernel.risk.rejections == {"COMPLIANCE_RESTRICTED": 1}
    assert not [c for c in harness.commands if isinstance(c, SubmitOrder)]
