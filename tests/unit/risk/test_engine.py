"""RiskEngine: which checks run per tier, first refusal wins, refusals counted; tier table.

The instrument is the real BTCUSDT (2021-10-12 exchangeInfo); the reference
price is the real close of the 2021-12-31 23:01 UTC BTCUSDT perpetual bar,
46377.0.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from genesis.core.enums import Side
from genesis.core.orders import Order
from genesis.risk.checks import RiskInput
from genesis.risk.engine import RiskEngine
from genesis.risk.limits import TIER_LIMITS, Tier, tier_for_equity
from genesis.testing.builders import order
from genesis.testing.instruments import instrument

D = Decimal
CLOSE = D("46377.0")


def _input(
    engine: RiskEngine,
    *,
    free_quote: str = "10000",
    stop_required: bool = False,
    open_positions: int = 0,
    position: str = "0",
) -> Callable[[], RiskInput]:
    def build() -> RiskInput:
        return RiskInput(
            instrument=instrument("BTCUSDT"),
            reference_price=CLOSE,
            equity=D(10_000),
            free_quote=D(free_quote),
            free_base=D(position).max(D(0)),
            position_qty=D(position),
            fee_rate=D(0),
            tier=engine.tier,
            limits=engine.limits,
            requires_stop_loss=stop_required,
            reduce_only=False,
            open_positions=open_positions,
        )

    return build


def _code(engine: RiskEngine, o: Order, **kw: object) -> str | None:
    refusal = engine.check(o, _input(engine, **kw))  # type: ignore[arg-type]
    return None if refusal is None else refusal.code


def test_without_tier_a_large_position_passes() -> None:
    """No tier: 0.1 BTC (46% of equity) needs only filters and cash."""
    assert _code(RiskEngine(), order(Side.BUY, "0.1")) is None


def test_without_tier_a_missing_stop_loss_passes() -> None:
    """No tier: the stop-loss rule does not run even when the strategy asks for it."""
    assert _code(RiskEngine(), order(Side.BUY, "0.1"), stop_required=True) is None


def test_without_tier_cash_still_runs() -> None:
    """No tier: a buy beyond the free quote is still refused."""
    assert _code(RiskEngine(), order(Side.BUY, "0.1"), free_quote="100") == "INSUFFICIENT_CASH"


def test_with_tier_size_limit_runs() -> None:
    """Sniper: 0.1 BTC at 46377.0 is over 2% of 10,000 USDT."""
    assert _code(RiskEngine(Tier.SNIPER), order(Side.BUY, "0.1")) == "MAX_POSITION_SIZE"


def test_with_tier_stop_loss_rule_runs() -> None:
    """Sniper: an entry without a stop loss is refused when the strategy requires one."""
    engine = RiskEngine(Tier.SNIPER)

    assert _code(engine, order(Side.BUY, "0.001"), stop_required=True) == "STOP_LOSS_REQUIRED"


def test_with_tier_an_entry_without_confidence_is_refused() -> None:
    """Hunter: an entry that carries no signal confidence cannot be weighed: refused."""
    assert _code(RiskEngine(Tier.HUNTER), order(Side.BUY, "0.001", confidence=None)) == (
        "CONFIDENCE_MISSING"
    )


@pytest.mark.parametrize(("confidence", "code"), [(0.59, "LOW_CONFIDENCE"), (0.6, None)])
def test_with_tier_confidence_floor_is_0_6(confidence: float, code: str | None) -> None:
    """Hunter: 0.59 is below the 0.6 floor; 0.6 passes."""
    assert _code(RiskEngine(Tier.HUNTER), order(Side.BUY, "0.001", confidence=confidence)) == code


def test_without_tier_confidence_is_not_checked() -> None:
    """No tier: a research backtest trades whatever the strategy sends."""
    assert _code(RiskEngine(), order(Side.BUY, "0.001", confidence=0.1)) is None


def test_exit_needs_no_confidence() -> None:
    """Hunter: a sell that shrinks a long position passes without a confidence."""
    o = order(Side.SELL, "0.001", confidence=None)
    assert _code(RiskEngine(Tier.HUNTER), o, position="0.002") is None


@pytest.mark.parametrize(
    ("tier", "open_now", "code"),
    [
        (Tier.SNIPER, 1, None),
        (Tier.SNIPER, 2, "MAX_OPEN_POSITIONS"),
        (Tier.HUNTER, 4, None),
        (Tier.HUNTER, 5, "MAX_OPEN_POSITIONS"),
    ],
)
def test_max_open_positions_per_tier(tier: Tier, open_now: int, code: str | None) -> None:
    """Sniper allows 2 open positions (an arbitrage's two legs), Hunter 5."""
    assert _code(RiskEngine(tier), order(Side.BUY, "0.001"), open_positions=open_now) == code


def test_adding_to_an_open_position_is_not_a_new_position() -> None:
    """Hunter at its 5-position limit may still add to a position it holds."""
    engine = RiskEngine(Tier.HUNTER)
    assert _code(engine, order(Side.BUY, "0.001"), open_positions=5, position="0.001") is None


def test_first_refusal_wins() -> None:
    """An order failing the filters and cash is refused for the filters, checked first."""
    assert _code(RiskEngine(), order(Side.BUY, "0.000015"), free_quote="0") == "INSTRUMENT_FILTER"


def test_refusals_are_counted_by_code() -> None:
    """Two size refusals and one cash refusal are counted per code and in total."""
    engine = RiskEngine(Tier.SNIPER)
    _code(engine, order(Side.BUY, "0.1"))
    _code(engine, order(Side.BUY, "0.1"))
    _code(engine, order(Side.BUY, "0.001"), free_quote="1")

    assert dict(engine.rejections) == {"MAX_POSITION_SIZE": 2, "INSUFFICIENT_CASH": 1}
    assert engine.rejected == 3


def test_input_is_built_once_per_check() -> None:
    """The risk snapshot is built exactly once for one order."""
    engine = RiskEngine(Tier.SNIPER)
    calls: list[int] = []
    build = _input(engine)

    def counting() -> RiskInput:
        calls.append(1)
        return build()

    engine.check(order(Side.BUY, "0.001"), counting)

    assert len(calls) == 1


def test_limits_sentence_names_the_cap() -> None:
    """Sniper with 10,000 USDT of equity: max position 200.00."""
    assert RiskEngine(Tier.SNIPER).limits_for(D(10_000)) == "tier sniper: max position 200.00"


def test_limits_sentence_without_tier() -> None:
    """Without a tier the sentence says only filters and cash apply."""
    assert "no tier" in RiskEngine().limits_for(D(10_000))


@pytest.mark.parametrize(
    ("tier", "pct"), [(Tier.SNIPER, "0.02"), (Tier.HUNTER, "0.05"), (Tier.STRATEGIST, "0.10")]
)
def test_tier_position_limits_are_2_5_and_10_percent(tier: Tier, pct: str) -> None:
    """The tier table caps a position at 2%, 5% and 10% of equity."""
    assert TIER_LIMITS[tier].max_position_pct == D(pct)


@pytest.mark.parametrize(
    ("equity", "tier"),
    [
        ("1999.99", Tier.SNIPER),
        ("2000", Tier.HUNTER),
        ("9999.99", Tier.HUNTER),
        ("10000", Tier.STRATEGIST),
    ],
)
def test_tier_for_equity_boundaries(equity: str, tier: Tier) -> None:
    """Sniper below $2k, Hunter from $2k, Strategist from $10k."""
    assert tier_for_equity(D(equity)) is tier
