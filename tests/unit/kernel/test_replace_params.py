"""A parameter hot reload swaps the strategy instance between events and keeps its price window."""

from __future__ import annotations

from decimal import Decimal

from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.testing.builders import Harness, real_bars

BARS = real_bars(0, 600)


def test_replace_params_keeps_the_window_and_uses_the_new_values() -> None:
    """After 300 bars, quantity 1 → 2: the averages continue, and the next entry is for 2 BTC."""
    harness = Harness.build(SmaCross, SmaCrossParams(quantity=Decimal(1)), cash=Decimal(1_000_000))
    harness.run(BARS[:300])
    before = harness.kernel.strategies["s1"].snapshot()

    new = harness.kernel.replace_params("s1", SmaCrossParams(quantity=Decimal(2)))
    harness.run(BARS[300:])

    assert new.snapshot() != before  # it kept trading on the same window
    assert harness.kernel.strategies["s1"] is new
    later = [
        c
        for c in harness.commands
        if getattr(c, "ts_init", 0) > BARS[299].ts_event and c.side.value == "BUY"
    ]  # type: ignore[attr-defined]
    assert later
    assert all(c.quantity == Decimal("2.00000") for c in later)  # type: ignore[attr-defined]
