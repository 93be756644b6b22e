"""The live allocation cap (PT-2): the file's parser, refusals with their sentences, exits
always free, and the risk engine running the cap last.

Prices are real: BTCUSDT opened 46319.0 on the first bundled 1m bar
(``genesis.resources.BTCUSDT_1M_BARS``, 2022-01); ETHUSDT's best bid was 2683.80 in
the first book ticker of the bundled 2024-08-08 stream (``ETHUSDT_STREAMS``).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from genesis.core.enums import AccountingMethod, Side
from genesis.errors import ConfigError, RiskRejected
from genesis.portfolio import Portfolio
from genesis.risk.allocation import Allocation, LiveAllocations, parse_allocations
from genesis.risk.checks import RiskInput
from genesis.risk.engine import RiskEngine
from genesis.testing.builders import fill, order
from genesis.testing.instruments import instrument, lookup

D = Decimal
BTC_OPEN = D("46319.0")
ETH_BID = D("2683.80")
ENTRY = {"promotion_id": "P1", "status": "approved", "step": 1, "of_steps": 4,
         "fraction": "0.10", "amount": "2000", "target": "20000"}  # fmt: skip


def _book(*fills: tuple[str, Side, str, str, Decimal]) -> Portfolio:
    """10,000 USDT with (strategy, side, instrument, qty, price) fills."""
    book = Portfolio(lookup, method=AccountingMethod.FIFO, balances={"USDT": D(10_000)},
                     base_currency="USDT")  # fmt: skip
    for n, (sid, side, iid, qty, px) in enumerate(fills):
        book.apply_fill(fill(side, qty, px, trade_id=f"T{n}", client_order_id=f"{sid}-{n}",
                             strategy_id=sid, instrument_id=iid))  # fmt: skip
    return book


def _risk(price: Decimal = BTC_OPEN, reduce_only: bool = False) -> RiskInput:
    return RiskInput(
        instrument=instrument("BTCUSDT"), reference_price=price, equity=D(0), free_quote=D(0),
        free_base=D(0), position_qty=D(0), fee_rate=D(0), tier=None, limits=None,
        requires_stop_loss=False, reduce_only=reduce_only,
    )  # fmt: skip


def _code(refused: RiskRejected | None) -> str | None:
    return None if refused is None else refused.code


def _cap(book: Portfolio, text: str | None, governed: tuple[str, ...] = ("s1",)) -> LiveAllocations:
    cap = LiveAllocations(lambda sid: sid in governed)
    cap.attach(book)
    if text is not None:
        cap.replace(parse_allocations(text, "live-allocations.json"))
    return cap


def test_parse_reads_the_ledgers_entry_as_exact_decimals() -> None:
    """The file the promotion ledger writes parses to the step and the amount, exactly."""
    (entry,) = parse_allocations(json.dumps({"s1": ENTRY}), "f").values()
    assert entry == Allocation(strategy_id="s1", promotion_id="P1", step=1, of_steps=4,
                               fraction=D("0.10"), amount=D("2000"))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"s1": ', "f:1: not valid JSON: Expecting value"),
        ("[]", "f: an object of strategy id -> allocation, was list"),
        ('{"s 1": {}}', "f: s 1: not a strategy id"),
        ('{"s1": 5}', "f: s1: an object, was int"),
        (json.dumps({"s1": {**ENTRY, "amount": 2000.5}}),
         "f: s1: amount: a decimal string >= 0, was 2000.5"),
        (json.dumps({"s1": {**ENTRY, "amount": "NaN"}}),
         "f: s1: amount: a decimal string >= 0, was 'NaN'"),
        (json.dumps({"s1": {**ENTRY, "amount": "-1"}}),
         "f: s1: amount: a decimal string >= 0, was '-1'"),
        (json.dumps({"s1": {**ENTRY, "step": 5}}), "f: s1: step: 1 <= step <= of_steps, was 5 of 4"),
        (json.dumps({"s1": {**ENTRY, "fraction": "1.5"}}), "f: s1: fraction: at most 1, was 1.5"),
        (json.dumps({"s1": {**ENTRY, "promotion_id": ""}}),
         "f: s1: promotion_id: a non-empty string, was ''"),
    ],
)  # fmt: skip
def test_parse_refuses_a_bad_file_naming_the_entry_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_allocations(text, "f")
    assert str(caught.value).startswith(message)


def test_governed_strategy_without_an_entry_is_refused_with_its_code() -> None:
    """No approval, no live entry: LIVE_NOT_ALLOCATED and a sentence naming the command."""
    refused = _cap(_book(), "{}").check(order(Side.BUY, "0.01"), _risk())
    assert refused is not None
    assert refused.code == "LIVE_NOT_ALLOCATED"
    assert refused.message.startswith("strategy s1 has no approved live allocation")
    assert "genesis promotion approve" in refused.message


def test_ungoverned_strategy_without_an_entry_trades_under_tier_limits_only() -> None:
    """A strategy with no promotion section and no entry is not the cap's business."""
    assert _cap(_book(), "{}", governed=()).check(order(Side.BUY, "0.01"), _risk()) is None


def test_entry_within_the_amount_passes_and_above_it_is_capped() -> None:
    """2000 USDT: 0.04 BTC at 46319.0 (1852.76) passes; 0.05 (2315.95) is capped, exactly."""
    cap = _cap(_book(), json.dumps({"s1": ENTRY}))
    assert cap.check(order(Side.BUY, "0.04"), _risk()) is None
    refused = cap.check(order(Side.BUY, "0.05"), _risk())
    assert refused is not None
    assert (refused.code, refused.message) == (
        "LIVE_ALLOCATION_CAP",
        "strategy s1's exposure 2315.95 USDT would exceed its live allocation 2000 USDT"
        " (promotion P1, step 1 of 4)",
    )


def test_cap_counts_the_strategys_other_positions_at_their_marks_only() -> None:
    """s1 holds 0.1 ETH (268.38): 0.04 BTC (1852.76) makes 2121.14 > 2000; another
    strategy's ETH does not count against s1."""
    text = json.dumps({"s1": ENTRY, "s2": ENTRY})
    mine = _cap(_book(("s1", Side.BUY, "ETHUSDT", "0.1", ETH_BID)), text)
    refused = mine.check(order(Side.BUY, "0.04"), _risk())
    assert refused is not None
    assert "exposure 2121.14 USDT" in refused.message
    theirs = _cap(_book(("s2", Side.BUY, "ETHUSDT", "0.1", ETH_BID)), text)
    assert theirs.check(order(Side.BUY, "0.04"), _risk()) is None


def test_working_orders_count_so_resting_buys_cannot_add_up_past_the_cap() -> None:
    """2000 USDT: one resting 0.03 BTC buy at 46319.0 (1389.57) passes alone; a second
    0.03 would make 0.06 working (2779.14) and is capped; a working sell does not add to a
    long's exposure (the larger of all buys filled and all sells filled counts)."""
    from genesis.core.enums import OrderType

    resting = [order(Side.BUY, "0.03", OrderType.LIMIT, client_order_id="s1-1", price=BTC_OPEN)]
    cap = _cap(_book(), json.dumps({"s1": ENTRY}))
    cap.attach(_book(), lambda sid: [o for o in resting if o.strategy_id == sid])
    second = order(Side.BUY, "0.03", OrderType.LIMIT, client_order_id="s1-2", price=BTC_OPEN)
    refused = cap.check(second, _risk())
    assert refused is not None
    assert "exposure 2779.14 USDT" in refused.message
    assert cap.check(order(Side.BUY, "0.01", client_order_id="s1-3"), _risk()) is None
    # the working order itself judged again (a modify to 0.04): counted once, 1852.76
    assert cap.check(order(Side.BUY, "0.04", client_order_id="s1-1"), _risk()) is None
    resting.append(order(Side.SELL, "0.02", OrderType.LIMIT, client_order_id="s1-4",
                         price=BTC_OPEN))  # fmt: skip
    assert cap.check(order(Side.BUY, "0.01", client_order_id="s1-5"), _risk()) is None


def test_exits_pass_without_an_entry_and_above_the_cap() -> None:
    """A revoked strategy holding 0.1 BTC (4631.90 > 2000) may still sell it, in part or
    whole, and a reduce-only order always passes."""
    book = _book(("s1", Side.BUY, "BTCUSDT", "0.1", BTC_OPEN))
    for text in ("{}", json.dumps({"s1": ENTRY})):
        cap = _cap(book, text)
        assert cap.check(order(Side.SELL, "0.1"), _risk()) is None
        assert cap.check(order(Side.SELL, "0.05"), _risk()) is None
        assert cap.check(order(Side.BUY, "0.01"), _risk(reduce_only=True)) is None
    refused = _cap(book, "{}").check(order(Side.SELL, "0.25"), _risk())  # a flip to -0.15 grows it
    assert _code(refused) == "LIVE_NOT_ALLOCATED"


def test_replace_swaps_the_entries_whole() -> None:
    """A later step (amount 5000) lets 0.05 BTC through; an empty file refuses it again."""
    cap = _cap(_book(), json.dumps({"s1": ENTRY}))
    cap.replace(parse_allocations(json.dumps({"s1": {**ENTRY, "step": 2, "amount": "5000"}}), "f"))
    assert cap.check(order(Side.BUY, "0.05"), _risk()) is None
    cap.replace({})
    refused = cap.check(order(Side.BUY, "0.05"), _risk())
    assert _code(refused) == "LIVE_NOT_ALLOCATED"


def test_engine_runs_the_added_check_last_and_counts_its_refusals() -> None:
    """Cash is checked first (INSUFFICIENT_CASH wins); with cash, the cap refuses and counts."""
    engine = RiskEngine()
    engine.add_check(_cap(_book(), "{}").check)
    rich = _risk().replace(free_quote=D(10_000))
    broke = engine.check(order(Side.BUY, "0.01"), _risk)
    capped = engine.check(order(Side.BUY, "0.01"), lambda: rich)
    assert _code(broke) == "INSUFFICIENT_CASH"
    assert _code(capped) == "LIVE_NOT_ALLOCATED"
    assert dict(engine.rejections) == {"INSUFFICIENT_CASH": 1, "LIVE_NOT_ALLOCATED": 1}
