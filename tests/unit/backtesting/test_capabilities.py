"""``BacktestConfig.capabilities``: a backtest trades as on a kind of venue (emulation)."""

from __future__ import annotations

import pytest

from genesis.backtesting.runner import emulate_as
from genesis.errors import ConfigError
from genesis.execution.emulation import CAPABILITIES
from genesis.testing.builders import make_kernel


def test_a_kind_makes_the_kernel_emulate_what_that_venue_lacks() -> None:
    """``ccxt``: the kernel's table for the venue is ccxt's (no stops, no lists)."""
    kernel = make_kernel()
    emulate_as(kernel, ["binance"], "ccxt")
    assert kernel.emulator.capabilities("BTCUSDT") == CAPABILITIES["ccxt"]


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    """A typo is a ConfigError that lists the kinds, not a KeyError."""
    with pytest.raises(ConfigError, match="binance, ccxt, oanda, simulated"):
        emulate_as(make_kernel(), ["binance"], "cxxt")
