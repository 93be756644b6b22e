"""sma_cross ``allow_short``: on a spot instrument it changes nothing (real BTCUSDT bars);
the long/short run on margin is the golden FX test (tests/e2e/test_backtest_fx_short.py)."""

from __future__ import annotations

from decimal import Decimal

from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.testing.builders import Harness, real_bars


def _fills(allow_short: bool) -> list[tuple[str, Decimal, Decimal]]:
    params = SmaCrossParams(fast=3, slow=8, quantity=Decimal("0.01"), allow_short=allow_short)
    harness = Harness.build(SmaCross, params).run(real_bars(0, 300))
    return [(f.side.value, f.last_qty, f.last_px) for f in harness.fills]


def test_allow_short_on_a_spot_instrument_trades_as_long_only() -> None:
    long_only = _fills(False)
    assert len(long_only) > 10
    assert _fills(True) == long_only
