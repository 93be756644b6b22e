"""Real instruments for tests: Binance spot ``exchangeInfo`` of 2021-10-12.

The table is read once per process from the bundled
``genesis/resources/exchange-info-2021-10-12.json.gz`` (1,695 symbols) and
shared: instruments are frozen, so sharing is safe.
"""

from __future__ import annotations

import functools

from genesis.core.instruments import Instrument, InstrumentTable, load_exchange_info
from genesis.resources import EXCHANGE_INFO

__all__ = ["BTCUSDT", "ETHBTC", "ETHUSDT", "instrument", "instrument_table", "lookup"]

BTCUSDT = "BTCUSDT"
ETHUSDT = "ETHUSDT"
ETHBTC = "ETHBTC"


@functools.cache
def instrument_table() -> InstrumentTable:
    """Every symbol of the bundled real exchangeInfo, read once per process."""
    return load_exchange_info(EXCHANGE_INFO)


def instrument(symbol: str = BTCUSDT) -> Instrument:
    """The real instrument for ``symbol`` (tick 0.01 and step 0.00001 for BTCUSDT).

    Raises:
        ConfigError: ``symbol`` is not in the exchangeInfo file.
    """
    return instrument_table().get(symbol)


def lookup(symbol: str) -> Instrument:
    """``instrument`` with a required argument: the ``instruments`` callable kernels take."""
    return instrument_table().get(symbol)
