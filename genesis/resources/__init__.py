"""Bundled real market data and venue metadata (see PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ALTBTC_5M_BARS",
    "BINANCE_BTCUSD_1M_QUOTES",
    "BINANCE_BTCUSD_1M_TRADES",
    "BTCUSDT_1M_BARS",
    "BTCUSDT_STREAMS",
    "BUNDLED_BY_INSTRUMENT",
    "BUNDLED_FOR_TIER",
    "BYBIT_BTCUSD_1M_QUOTES",
    "BYBIT_BTCUSD_1M_TRADES",
    "COINBASE_BTCUSD_1M_TRADES",
    "COINBASE_ETHUSD_1M_TRADES",
    "ETHUSDT_STREAMS",
    "EXCHANGE_INFO",
    "RESOURCES",
    "SPOT_CAPTURE",
]

RESOURCES = Path(__file__).resolve().parent
EXCHANGE_INFO = RESOURCES / "exchange-info-2021-10-12.json.gz"
BTCUSDT_1M_BARS = RESOURCES / "btcusdt-perp-1m-2022-01.csv.gz"
SPOT_CAPTURE = RESOURCES / "spot-capture-2021-10-12.jsonl.gz"
BTCUSDT_STREAMS = RESOURCES / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
ETHUSDT_STREAMS = RESOURCES / "binance-spot-ethusdt-streams-2024-08-08.txt.gz"
BINANCE_BTCUSD_1M_TRADES = RESOURCES / "binance-btcusd-perp-1m-2022-12-13-trade.csv.gz"
BINANCE_BTCUSD_1M_QUOTES = RESOURCES / "binance-btcusd-perp-1m-2022-12-13-quote.csv.gz"
BYBIT_BTCUSD_1M_TRADES = RESOURCES / "bybit-btcusd-perp-1m-2022-12-13-trade.csv.gz"
BYBIT_BTCUSD_1M_QUOTES = RESOURCES / "bybit-btcusd-perp-1m-2022-12-13-quote.csv.gz"
# six altcoin/BTC pairs, 5-minute bars, the same 20 days of January 2018: symbol -> file
ALTBTC_5M_BARS = {
    f"{coin}BTC": RESOURCES / f"binance-{coin}BTC-5m-2018-01.csv.gz"
    for coin in ("ADA", "DASH", "ETH", "LTC", "XLM", "XMR")
}
COINBASE_BTCUSD_1M_TRADES = RESOURCES / "coinbase-btcusd-1m-2017-09-03_04-trade.csv.gz"
COINBASE_ETHUSD_1M_TRADES = RESOURCES / "coinbase-ethusd-1m-2017-09-03_04-trade.csv.gz"

# The recording a paper daemon replays by default for each instrument it may trade
# (instrument id as the kernel names it: a bare symbol is on Binance). Quote bars for
# the two-venue BTCUSD pair, so an arbitrage sees both sides of both books.
BUNDLED_BY_INSTRUMENT = {
    "BTCUSDT": BTCUSDT_1M_BARS,
    "ETHUSDT": ETHUSDT_STREAMS,
    **ALTBTC_5M_BARS,
    "BTCUSD": BINANCE_BTCUSD_1M_QUOTES,  # binance:BTCUSD (Binance is the default venue)
    "bybit:BTCUSD": BYBIT_BTCUSD_1M_QUOTES,
    "dark:BTCUSD": BINANCE_BTCUSD_1M_QUOTES,  # the lit feed the simulated dark pool pegs to
    "coinbase:BTCUSD": COINBASE_BTCUSD_1M_TRADES,
    "coinbase:ETHUSD": COINBASE_ETHUSD_1M_TRADES,
}

# Where a tier needs another recording of the same instrument: the Strategist works
# orders and makes markets on L2, so its BTCUSDT and ETHUSDT are the depth streams.
BUNDLED_FOR_TIER = {
    "strategist": {"BTCUSDT": BTCUSDT_STREAMS, "ETHUSDT": ETHUSDT_STREAMS},
}
