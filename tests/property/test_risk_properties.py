"""Risk invariants: a refused order changes nothing; the risk score stays in [0, 100]."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import Bar
from genesis.core.orders import Order
from genesis.risk.limits import TIER_LIMITS, Tier
from genesis.risk.measures import risk_score
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, real_bars

BARS = real_bars(0, 3)  # the first three real bundled BTCUSDT minutes


class _OneShot(Strategy[StrategyParams]):
    """Submits ``self.spec`` once, on its second bar (after a first bar has priced it)."""

    spec: dict[str, Any]  # set by the test before the first bar
    sent: Order | None = None

    def on_start(self) -> None:
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars != 2:
            return
        spec, factory = self.spec, self.ctx.orders
        if spec["type"] is OrderType.LIMIT:
            self.sent = factory.limit(
                bar.instrument_id, spec["side"], spec["qty"], spec["price"],
                confidence=spec["confidence"], stop_loss=spec["stop"],
            )  # fmt: skip
        else:
            self.sent = factory.market(
                bar.instrument_id, spec["side"], spec["qty"],
                confidence=spec["confidence"], stop_loss=spec["stop"],
            )  # fmt: skip
        self.ctx.submit(self.sent)


ORDERS = st.fixed_dictionaries(
    {
        "side": st.sampled_from([Side.BUY, Side.SELL]),
        "type": st.sampled_from([OrderType.MARKET, OrderType.LIMIT]),
        "qty": st.decimals(min_value="0.00001", max_value="5", places=5),
        "price": st.decimals(min_value="40000", max_value="50000", places=2),
        "confidence": st.none() | st.floats(min_value=0.0, max_value=1.0),
        "stop": st.none() | st.just(Decimal("45000.00")),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=ORDERS, tier=st.sampled_from(list(Tier)), cash=st.sampled_from([500, 5000, 50_000]))
def test_a_refused_order_changes_no_state(spec: dict[str, Any], tier: Tier, cash: int) -> None:
    """Whatever the order, if risk refuses it: no command, balances, positions, equity
    and working orders as they were before it."""
    harness = Harness.build(_OneShot, StrategyParams(), cash=Decimal(cash), tier=tier)
    strategy = harness.kernel.strategies["s1"]
    assert isinstance(strategy, _OneShot)
    strategy.spec = spec
    harness.step(BARS[0])
    kernel = harness.kernel
    before = (kernel.portfolio.balances(), kernel.portfolio.equity(), kernel.oms.open_orders())
    sent_before = len(harness.commands)

    harness.step(BARS[1])

    order = strategy.sent
    assert order is not None
    if order.status is OrderStatus.DENIED:
        after = (kernel.portfolio.balances(), kernel.portfolio.equity(), kernel.oms.open_orders())
        assert after == before
        assert kernel.portfolio.position_qty(order.instrument_id) == 0
        new = harness.commands[sent_before:]
        assert not any(isinstance(c, SubmitOrder) for c in new)
        assert kernel.risk.rejected == kernel.denied == 1


UNIT = st.floats(allow_nan=True, allow_infinity=True)


@given(
    leverage=UNIT,
    var99=st.none() | UNIT,
    drawdown=UNIT,
    concentration=UNIT,
    halted=st.sampled_from([0.0, 0.5, 1.0]),
    tier=st.none() | st.sampled_from(list(Tier)),
)
def test_risk_score_stays_within_0_and_100(
    leverage: float,
    var99: float | None,
    drawdown: float,
    concentration: float,
    halted: float,
    tier: Tier | None,
) -> None:
    """Any inputs, NaN and infinities included, score in [0, 100] with parts in [0, 1]."""
    score, parts = risk_score(
        leverage=leverage, var99=var99, current_drawdown=drawdown, concentration=concentration,
        halted=halted, limits=TIER_LIMITS[tier] if tier else None,
    )  # fmt: skip

    assert 0.0 <= score <= 100.0
    assert all(0.0 <= p <= 1.0 for p in parts.values())
