"""Instruments inferred from real recordings for symbols no exchangeInfo lists."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis.data.inference import FinestDecimal, infer_instrument, split_pair
from genesis.data.sources import instruments_for, parse_data_arg, spec_events
from genesis.errors import ConfigError
from genesis.resources import (
    BINANCE_BTCUSD_1M_TRADES,
    BYBIT_BTCUSD_1M_TRADES,
    ETHUSDT_STREAMS,
    SPOT_CAPTURE,
)
from genesis.testing.instruments import instrument_table

D = Decimal
BTCUSDT_STREAMS = (
    Path(__file__).resolve().parents[2]
    / "data"
    / ("binance-spot-btcusdt-streams-2024-08-08.txt.gz")
)


def test_inverse_perpetuals_of_two_venues_are_inferred():
    """BTCUSD on Binance and Bybit is not in spot exchangeInfo: both inferred, each on its venue."""
    specs = [
        parse_data_arg(str(BINANCE_BTCUSD_1M_TRADES)),
        parse_data_arg(str(BYBIT_BTCUSD_1M_TRADES)),
    ]

    found = instruments_for(specs, instrument_table())

    binance, bybit = found.table.get("BTCUSD"), found.table.get("bybit:BTCUSD")
    assert found.instrument_ids == ("BTCUSD", "bybit:BTCUSD")
    assert (binance.symbol, binance.venue, binance.base, binance.quote) == (
        "BTCUSD",
        "BINANCE",
        "BTC",
        "USD",
    )
    assert (binance.tick_size, binance.step_size, binance.source) == (D("0.1"), D("1"), "inferred")
    # Bybit's tick is 0.5, but its bars hold a few prints in cents (17096.03): the data says 0.01.
    assert (bybit.symbol, bybit.venue, bybit.tick_size, bybit.step_size) == (
        "BTCUSD",
        "BYBIT",
        D("0.01"),
        D("1"),
    )
    assert found.inferred == (
        "instrument BTCUSD inferred (not listed): base BTC, quote USD, tick 0.1 (the prices' "
        "finest decimal), step 1 (the sizes' finest decimal); from "
        "binance-btcusd-perp-1m-2022-12-13-trade.csv.gz",
        "instrument bybit:BTCUSD inferred (not listed): base BTC, quote USD, tick 0.01 (the "
        "prices' finest decimal), step 1 (the sizes' finest decimal); from "
        "bybit-btcusd-perp-1m-2022-12-13-trade.csv.gz",
    )
    assert len(found.table) == len(instrument_table()) + 2


def test_listed_binance_symbols_keep_their_exchange_info():
    """BTCUSDT and ETHUSDT streams need no inference: the table's instruments are used."""
    specs = [parse_data_arg(str(BTCUSDT_STREAMS)), parse_data_arg(str(ETHUSDT_STREAMS))]

    found = instruments_for(specs, instrument_table())

    assert found.inferred == ()
    assert found.table.get("ETHUSDT") == instrument_table().get("ETHUSDT")
    assert found.table.get("ETHUSDT").source == "exchangeInfo"


def test_a_listed_symbol_on_another_venue_is_inferred():
    """Binance's filters do not bind another venue: okx:NKNUSDT is inferred from the capture."""
    found = instruments_for([parse_data_arg(f"okx:NKNUSDT={SPOT_CAPTURE}")], instrument_table())

    inst = found.table.get("okx:NKNUSDT")

    assert (inst.venue, inst.tick_size, inst.step_size) == ("OKX", D("0.00001"), D("0.1"))
    assert found.table.get("NKNUSDT").source == "exchangeInfo"


@pytest.mark.parametrize(
    ("path", "symbol", "tick", "step"),
    [
        # Stream prices are padded to 8 places ("2683.80000000"): trailing zeros do not count.
        (ETHUSDT_STREAMS, "ETHUSDT", D("0.01"), D("0.00001")),
        (BTCUSDT_STREAMS, "BTCUSDT", D("0.01"), D("0.000001")),
    ],
)
def test_increments_from_padded_stream_prices(path, symbol, tick, step):
    """Ticks inferred from raw streams match the real 0.01 although every price shows 8 places."""
    events = spec_events(parse_data_arg(str(path)))

    inst, _ = infer_instrument(symbol, "binance", symbol, events)

    assert (inst.tick_size, inst.step_size) == (tick, step)


def test_finest_decimal_ignores_trailing_zeros_and_caps_at_one():
    """17204 and 17207.6 give 0.1; integers alone give 1; zero tells nothing."""
    tick, whole, empty = FinestDecimal(), FinestDecimal(), FinestDecimal()
    for text in ("17204", "17207.60000000", "0"):
        tick.add(D(text))
    for text in ("4242", "17069", "1E+3"):
        whole.add(D(text))
    empty.add(D(0))

    assert (tick.result(), whole.result(), empty.result()) == (D("0.1"), D("1"), None)


@pytest.mark.parametrize(
    ("symbol", "pair"),
    [("BTCUSD", ("BTC", "USD")), ("BTCUSDT", ("BTC", "USDT")), ("ETHBTC", ("ETH", "BTC")),
     ("BTCFDUSD", ("BTC", "FDUSD"))],
)  # fmt: skip
def test_split_pair(symbol, pair):
    """Base and quote assets come from the symbol's known quote suffix, longest first."""
    assert split_pair(symbol) == pair


def test_split_pair_refuses_an_unknown_quote():
    """A symbol without a known quote suffix cannot be inferred."""
    with pytest.raises(ConfigError, match="instrument XYZ: cannot tell its base and quote assets"):
        split_pair("XYZ")
