"""Bid and ask OHLC bars from two files, merged by time into FX market events.

FX history often comes as two bar files of one pair, one of bid prices and one of
ask prices (the bundled FXCM GBPUSD month: ``gbpusd-1m-2012-02-bid.csv.gz`` and
``-ask.csv.gz``, ``timestamp,open,high,low,close``, the timestamp a bar's open).
:func:`read_bid_ask_bars` reads both lazily, side by side, and for every minute
gives, at the bar's close:

1. a :class:`QuoteTick` of the closing bid and ask (sizes 0: unknown depth), the
   price the simulated venue fills against: a buy takes the ask, a sell the bid;
2. a :class:`Bar` of mid prices, each of open/high/low/close the mean of the bid's
   and the ask's, the bar strategies see (``on_bar``) and positions are marked at.

Rules (docs/fx.md):

* A bar is used only when both files have its timestamp. A timestamp in one file
  only (a gap in the other) is skipped and counted (``BidAskStats.bid_only`` /
  ``ask_only``); so is a bar whose closing ask is below its closing bid
  (``crossed``: 347 of the bundled month's 30,117 minutes), which no fill could
  take. A locked bar (ask == bid) is used.
* Both files must be bars of one interval, each in time order (``read_bars``'
  checks: a row out of order or malformed is a ``DataError`` with file and line);
  files of different intervals are a ``DataError``.
* Files with no timestamp in common are a ``DataError``: they are not one pair's
  bid and ask.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from genesis.core.events import Bar, MarketEvent, QuoteTick
from genesis.core.money import ZERO
from genesis.data.loaders import infer_interval_ns, read_bars
from genesis.errors import DataError

__all__ = ["BidAskStats", "read_bid_ask_bars"]

_TWO: Final = 2


@dataclass(slots=True)
class BidAskStats:
    """What the merge used and skipped (filled in as the events are read)."""

    bars: int = 0
    bid_only: int = 0
    ask_only: int = 0
    crossed: int = 0

    @property
    def skipped(self) -> int:
        return self.bid_only + self.ask_only + self.crossed


def read_bid_ask_bars(
    bid_path: Path, ask_path: Path, instrument_id: str, stats: BidAskStats | None = None
) -> Iterator[MarketEvent]:
    """Stream the merged events of a bid and an ask bar file (module docstring).

    Raises:
        DataError: now, when the two files' bar intervals differ or cannot be read;
            while streaming, a malformed or out-of-order row (file:line), or no
            timestamp in common by the end.
    """
    for path in (bid_path, ask_path):
        if not path.is_file():
            raise DataError(f"{path}: no such file")
    intervals = (infer_interval_ns(bid_path), infer_interval_ns(ask_path))
    if intervals[0] != intervals[1]:
        raise DataError(
            f"bid {bid_path.name} has {intervals[0] // 1_000_000_000} s bars, ask"
            f" {ask_path.name} {intervals[1] // 1_000_000_000} s bars: expected one interval"
        )
    return _merge(bid_path, ask_path, instrument_id, stats or BidAskStats())


def _merge(
    bid_path: Path, ask_path: Path, instrument_id: str, stats: BidAskStats
) -> Iterator[MarketEvent]:
    bids = read_bars(bid_path, instrument_id)
    asks = read_bars(ask_path, instrument_id)
    bid, ask = next(bids, None), next(asks, None)
    while bid is not None and ask is not None:
        if bid.ts_open < ask.ts_open:
            stats.bid_only += 1
            bid = next(bids, None)
        elif ask.ts_open < bid.ts_open:
            stats.ask_only += 1
            ask = next(asks, None)
        else:
            if ask.close < bid.close:
                stats.crossed += 1
            else:
                stats.bars += 1
                yield _quote(bid, ask)
                yield _mid(bid, ask)
            bid, ask = next(bids, None), next(asks, None)
    stats.bid_only += sum(1 for _ in bids) + (bid is not None)
    stats.ask_only += sum(1 for _ in asks) + (ask is not None)
    if stats.bars == 0:
        raise DataError(
            f"bid {bid_path.name} and ask {ask_path.name}: no usable bar (none at a time both"
            f" files have with ask >= bid: {stats.bid_only} bid-only, {stats.ask_only}"
            f" ask-only, {stats.crossed} crossed); expected one pair's bid and ask bars"
        )


def _quote(bid: Bar, ask: Bar) -> QuoteTick:
    return QuoteTick(
        ts_event=bid.ts_event,
        ts_init=bid.ts_init,
        instrument_id=bid.instrument_id,
        bid=bid.close,
        ask=ask.close,
        bid_size=ZERO,
        ask_size=ZERO,
    )


def _mid(bid: Bar, ask: Bar) -> Bar:
    return Bar(
        ts_event=bid.ts_event,
        ts_init=bid.ts_init,
        instrument_id=bid.instrument_id,
        ts_open=bid.ts_open,
        open=(bid.open + ask.open) / _TWO,
        high=(bid.high + ask.high) / _TWO,
        low=(bid.low + ask.low) / _TWO,
        close=(bid.close + ask.close) / _TWO,
        volume=bid.volume + ask.volume,
    )
