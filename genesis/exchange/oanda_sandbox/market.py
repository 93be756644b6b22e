"""The sandbox's market: the replayed GBP/USD bid/ask quotes and the instrument's terms.

The bundled files (``tests/data/gbpusd-1m-2012-02-{bid,ask}.csv.gz``, FXCM, see
``tests/data/PROVENANCE.md``) hold 1-minute bid and ask OHLC bars; each minute
becomes one quote: the bid bar's close and the ask bar's close at the bar's
close time. Minutes present in only one file are skipped. Quotes advance on
the replay clock (``speed`` minutes per second) or by ``advance`` in tests.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

__all__ = [
    "BUNDLED_ASK",
    "BUNDLED_BID",
    "GBP_USD",
    "InstrumentSpec",
    "Quote",
    "QuoteReplay",
    "load_quotes",
]

_DATA = Path(__file__).resolve().parents[3] / "tests" / "data"
BUNDLED_BID = _DATA / "gbpusd-1m-2012-02-bid.csv.gz"
BUNDLED_ASK = _DATA / "gbpusd-1m-2012-02-ask.csv.gz"
_MINUTE_NS = 60_000_000_000


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """An OANDA instrument's terms, as ``/v3/accounts/{id}/instruments`` reports them."""

    name: str
    display_name: str
    pip_location: int
    display_precision: int
    trade_units_precision: int
    minimum_trade_size: Decimal
    maximum_order_units: Decimal
    margin_rate: Decimal
    minimum_trailing_stop_distance: Decimal
    maximum_trailing_stop_distance: Decimal

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.display_precision)

    def to_json(self) -> dict[str, object]:
        p = self.display_precision
        return {
            "name": self.name,
            "type": "CURRENCY",
            "displayName": self.display_name,
            "pipLocation": self.pip_location,
            "displayPrecision": p,
            "tradeUnitsPrecision": self.trade_units_precision,
            "minimumTradeSize": str(self.minimum_trade_size),
            "maximumTrailingStopDistance": f"{self.maximum_trailing_stop_distance:.{p}f}",
            "minimumTrailingStopDistance": f"{self.minimum_trailing_stop_distance:.{p}f}",
            "maximumPositionSize": "0",
            "maximumOrderUnits": str(self.maximum_order_units),
            "marginRate": str(self.margin_rate),
            "guaranteedStopLossOrderMode": "DISABLED",
            "tags": [{"type": "ASSET_CLASS", "name": "CURRENCY"}],
        }


# OANDA's published GBP_USD terms (a 3.33% margin rate is 30:1, the retail limit on majors)
GBP_USD = InstrumentSpec(
    name="GBP_USD",
    display_name="GBP/USD",
    pip_location=-4,
    display_precision=5,
    trade_units_precision=0,
    minimum_trade_size=Decimal(1),
    maximum_order_units=Decimal(100_000_000),
    margin_rate=Decimal("0.0333"),
    minimum_trailing_stop_distance=Decimal("0.00050"),
    maximum_trailing_stop_distance=Decimal("1.00000"),
)


@dataclass(frozen=True, slots=True)
class Quote:
    """One top-of-book quote; ``ts_ns`` is the source bar's close time."""

    ts_ns: int
    bid: Decimal
    ask: Decimal

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


def _read_closes(path: Path) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {}
    with gzip.open(path, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            opened = datetime.fromisoformat(row["timestamp"])
            ts = int(opened.timestamp()) * 1_000_000_000 + _MINUTE_NS
            out[ts] = Decimal(row["close"])
    return out


def load_quotes(bid_path: Path = BUNDLED_BID, ask_path: Path = BUNDLED_ASK) -> list[Quote]:
    """The quotes of the minutes both files hold, in time order (crossed minutes skipped)."""
    bids = _read_closes(bid_path)
    asks = _read_closes(ask_path)
    quotes = []
    for ts in sorted(bids.keys() & asks.keys()):
        bid, ask = bids[ts], asks[ts]
        if bid < ask:
            quotes.append(Quote(ts, bid, ask))
    if not quotes:
        raise ValueError(f"{bid_path} / {ask_path}: no minute with both a bid and an ask")
    return quotes


class QuoteReplay:
    """The current quote of a replay; ``advance`` moves it (wrapping at the end)."""

    def __init__(self, quotes: list[Quote]) -> None:
        self._quotes = quotes
        self._index = 0
        self._override: Quote | None = None

    @property
    def current(self) -> Quote:
        return self._override or self._quotes[self._index]

    def advance(self, minutes: int = 1) -> Quote:
        """Step ``minutes`` quotes forward (after the last one, the first comes again)."""
        self._override = None
        self._index = (self._index + minutes) % len(self._quotes)
        return self.current

    def set_quote(self, bid: Decimal, ask: Decimal) -> Quote:
        """Replace the current quote (tests and the fault hooks); ``advance`` resumes replay."""
        if not bid < ask:
            raise ValueError(f"set_quote: bid {bid} must be below ask {ask}")
        self._override = Quote(self.current.ts_ns, bid, ask)
        return self._override
