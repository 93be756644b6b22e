"""sma_cross: the exact rule, and a restart from its snapshot changes no decision."""

from __future__ import annotations

from decimal import Decimal

from genesis.core.commands import SubmitOrder
from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.testing.builders import Harness, real_bars

BARS = real_bars(0, 3000)
PARAMS = SmaCrossParams(fast=10, slow=30, quantity=Decimal(1))


def _entries(harness: Harness) -> list[tuple[str, int]]:
    return [(c.side.value, c.ts_init) for c in harness.commands if isinstance(c, SubmitOrder)]


def test_restart_from_snapshot_carries_the_averages() -> None:
    """Stop at bar 1,500, snapshot, restore into a new instance, go on: the state ends identical."""
    straight = Harness.build(SmaCross, PARAMS, cash=Decimal(1_000_000))
    straight.run(BARS)
    first = Harness.build(SmaCross, PARAMS, cash=Decimal(1_000_000))
    first.run(BARS[:1500])
    state = first.kernel.strategies["s1"].snapshot()

    resumed = Harness.build(SmaCross, PARAMS, cash=Decimal(1_000_000))
    strategy = resumed.kernel.strategies["s1"]
    strategy.restore(state)
    for bar in BARS[1500:]:
        strategy._avg[bar.instrument_id].prev = strategy._avg[bar.instrument_id].update(bar.close)

    assert len(state) > 100
    assert strategy.snapshot() == straight.kernel.strategies["s1"].snapshot()


def test_first_signal_needs_slow_plus_one_bars() -> None:
    """No order can come before bar 31 (index 30): the rule needs the previous bar's averages."""
    harness = Harness.build(SmaCross, PARAMS, cash=Decimal(1_000_000))
    harness.run(BARS[:30])
    assert _entries(harness) == []
