"""Bar aggregation from trades, and resampling of bars into coarser bars.

The aggregators are pure, incremental state machines: ``update(trade)`` costs
O(1) and returns the bars that trade completed (usually none), ``flush()``
returns the bar still open at the end of the data. They read no clock; a
time bar can also be closed by the caller's clock through ``on_time``.

Prices and volumes are ``Decimal`` and sums are exact: additions run in a
200-digit context that raises rather than round. Volume is the trades' base
quantity (``TradeTick.size``).

Timestamps of an aggregated bar follow the loaders' convention: ``ts_open``
is the bar's open time and ``ts_event == ts_init`` its close time, because a
bar's content is known once it has closed (and so that bars built here compare
equal to the same bars read from a file).

Trades must arrive in time order (equal timestamps are fine). A trade older
than one already seen, or older than the end of a bar already closed, raises
:class:`~genesis.errors.DataError` and leaves the aggregator unchanged.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Final

from genesis.core.events import Bar, TradeTick
from genesis.data.timeparse import format_ns
from genesis.errors import ConfigError, DataError

__all__ = ["TimeBarAggregator", "VolumeBarAggregator", "resample_bars"]

_EXACT: Final = decimal.Context(
    prec=200, traps=[decimal.Inexact, decimal.Rounded, decimal.InvalidOperation]
)
_add: Final = _EXACT.add
_subtract: Final = _EXACT.subtract
_ZERO: Final = Decimal(0)
_NO_TS: Final = -(2**63)


class TimeBarAggregator:
    """Time bars of ``interval_ns``, aligned to multiples of the interval since the epoch.

    A 1-minute aggregator makes bars ``[hh:mm:00, hh:mm+1:00)``; 5m, 15m, 1h
    and any N-second bar are the same class with another interval (1h bars
    start on the hour, 1-day bars at 00:00 UTC). A bar closes when a trade
    arrives at or past its end, or when :meth:`on_time` is called at or past
    its end. An interval without trades produces no bar: the next bar starts
    at the next traded interval (no flat bars are invented).
    """

    __slots__ = (
        "_close", "_end", "_floor", "_high", "_instrument_id", "_interval_ns",
        "_low", "_open", "_start", "_volume",
    )  # fmt: skip

    def __init__(self, instrument_id: str, interval_ns: int) -> None:
        """Create an aggregator with no open bar.

        Raises:
            ConfigError: ``interval_ns`` is not positive.
        """
        if interval_ns <= 0:
            raise ConfigError(f"invalid `interval_ns` {interval_ns}, expected a positive ns count")
        self._instrument_id, self._interval_ns = instrument_id, interval_ns
        self._start = self._end = self._floor = _NO_TS
        self._open = self._high = self._low = self._close = self._volume = _ZERO

    def update(self, trade: TradeTick) -> list[Bar]:
        """Add one trade; return the bar it closed (``[]`` or one bar).

        Raises:
            DataError: the trade is older than a trade already seen or than
                the end of a bar already closed (the aggregator is unchanged).
        """
        ts = trade.ts_event
        if self._floor <= ts < self._end:
            price = trade.price
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume = _add(self._volume, trade.size)
            self._floor = ts
            return []
        return self._roll(trade)

    def on_time(self, ts_ns: int) -> list[Bar]:
        """Close the open bar if the clock ``ts_ns`` has reached its end.

        Returns:
            ``[bar]`` when a bar closed, else ``[]``.
        """
        if self._end == _NO_TS or ts_ns < self._end:
            return []
        return [self._take()]

    def flush(self) -> Bar | None:
        """Close and return the open bar (possibly partial), or ``None``.

        The bar keeps its nominal close time; later trades must be at or past it.
        """
        return None if self._end == _NO_TS else self._take()

    def _roll(self, trade: TradeTick) -> list[Bar]:
        ts = trade.ts_event
        if ts < self._floor:
            raise DataError(
                f"trade {trade.trade_id!r} at {format_ns(ts)} is out of order: the "
                f"{self._instrument_id} bars have reached {format_ns(self._floor)}"
            )
        closed = [] if self._end == _NO_TS else [self._take()]
        self._start = ts - ts % self._interval_ns
        self._end = self._start + self._interval_ns
        self._open = self._high = self._low = self._close = trade.price
        self._volume, self._floor = trade.size, ts
        return closed

    def _take(self) -> Bar:
        bar = Bar(
            ts_event=self._end, ts_init=self._end, instrument_id=self._instrument_id,
            ts_open=self._start, open=self._open, high=self._high, low=self._low,
            close=self._close, volume=self._volume,
        )  # fmt: skip
        self._floor, self._end = self._end, _NO_TS
        return bar


class VolumeBarAggregator:
    """Bars of exactly ``volume`` base quantity each.

    Split rule: a trade that would overflow the open bar is cut at the
    threshold. The first part completes the open bar, the rest opens the next
    bar at the same price and time; a trade larger than several thresholds
    yields several whole bars at its price. So every completed bar has volume
    exactly ``volume``, and the completed bars plus :meth:`flush` sum exactly
    to the traded quantity. A bar's ``ts_open`` is the time of its first
    trade (or trade part) and ``ts_event == ts_init`` the time of the trade
    that completed it.
    """

    __slots__ = (
        "_close", "_filled", "_floor", "_high", "_instrument_id", "_low", "_open",
        "_threshold", "_ts_open",
    )  # fmt: skip

    def __init__(self, instrument_id: str, volume: Decimal) -> None:
        """Create an aggregator with no open bar.

        Raises:
            ConfigError: ``volume`` is not a positive finite Decimal.
        """
        if not (isinstance(volume, Decimal) and volume.is_finite() and volume > 0):
            raise ConfigError(f"invalid `volume` {volume!r}, expected a positive Decimal")
        self._instrument_id, self._threshold = instrument_id, volume
        self._floor, self._ts_open = _NO_TS, _NO_TS
        self._open = self._high = self._low = self._close = self._filled = _ZERO

    def update(self, trade: TradeTick) -> list[Bar]:
        """Add one trade; return the bars it completed, oldest first.

        Raises:
            DataError: the trade is older than a trade already seen (the
                aggregator is unchanged).
        """
        ts, price, size = trade.ts_event, trade.price, trade.size
        if ts < self._floor:
            raise DataError(
                f"trade {trade.trade_id!r} at {format_ns(ts)} is out of order: "
                f"{self._instrument_id} volume bars have reached {format_ns(self._floor)}"
            )
        self._floor = ts
        completed: list[Bar] = []
        room = _subtract(self._threshold, self._filled)
        while size >= room:
            self._extend(ts, price, room)
            completed.append(self._take(ts))
            size, room = _subtract(size, room), self._threshold
        if size:
            self._extend(ts, price, size)
        return completed

    def flush(self) -> Bar | None:
        """Return the open, partial bar (volume below the threshold), or ``None``."""
        return None if self._ts_open == _NO_TS else self._take(self._floor)

    def _extend(self, ts: int, price: Decimal, size: Decimal) -> None:
        if self._ts_open == _NO_TS:
            self._ts_open, self._open, self._high, self._low = ts, price, price, price
        elif price > self._high:
            self._high = price
        elif price < self._low:
            self._low = price
        self._close = price
        self._filled = _add(self._filled, size)

    def _take(self, ts: int) -> Bar:
        bar = Bar(
            ts_event=ts, ts_init=ts, instrument_id=self._instrument_id, ts_open=self._ts_open,
            open=self._open, high=self._high, low=self._low, close=self._close,
            volume=self._filled,
        )  # fmt: skip
        self._ts_open, self._filled = _NO_TS, _ZERO
        return bar


def resample_bars(bars: Iterable[Bar], interval_ns: int) -> Iterator[Bar]:
    """Combine bars into coarser bars of ``interval_ns`` (1m → 5m, 1h → 1d).

    Output bars are aligned to multiples of ``interval_ns`` since the epoch,
    with ``ts_open`` the bucket start and ``ts_event == ts_init`` its end.
    Open is the first bar's open, close the last bar's close, high/low the
    extremes and volume the exact sum. Buckets without input bars produce no
    bar; the last bucket is emitted even when incomplete.

    Args:
        bars: bars of one instrument, in time order, each inside one bucket.
        interval_ns: the coarser interval in ns.

    Returns:
        A lazy iterator of the coarser bars.

    Raises:
        ConfigError: ``interval_ns`` is not positive.
        DataError: on iteration, for mixed instruments, bars out of order, or
            a bar that straddles two buckets (the interval is not a multiple).
    """
    if interval_ns <= 0:
        raise ConfigError(f"invalid `interval_ns` {interval_ns}, expected a positive ns count")
    return _resample(bars, interval_ns)


def _resample(bars: Iterable[Bar], interval_ns: int) -> Iterator[Bar]:
    group: list[Bar] = []
    for bar in bars:
        start = bar.ts_open - bar.ts_open % interval_ns
        if bar.ts_event > start + interval_ns:
            raise DataError(
                f"bar {format_ns(bar.ts_open)}..{format_ns(bar.ts_event)} straddles two "
                f"{interval_ns} ns buckets, expected an interval that is a multiple of the input"
            )
        if group:
            _check_follows(group[-1], bar)
            if start != group[0].ts_open - group[0].ts_open % interval_ns:
                yield _merge(group, interval_ns)
                group = []
        group.append(bar)
    if group:
        yield _merge(group, interval_ns)


def _check_follows(previous: Bar, bar: Bar) -> None:
    if bar.instrument_id != previous.instrument_id:
        raise DataError(
            f"cannot resample mixed instruments: {bar.instrument_id!r} after "
            f"{previous.instrument_id!r}, expected one instrument"
        )
    if bar.ts_open <= previous.ts_open:
        raise DataError(
            f"bars out of order: {format_ns(bar.ts_open)} after {format_ns(previous.ts_open)}, "
            "expected increasing ts_open"
        )


def _merge(group: list[Bar], interval_ns: int) -> Bar:
    first = group[0]
    start = first.ts_open - first.ts_open % interval_ns
    volume = _ZERO
    for bar in group:
        volume = _add(volume, bar.volume)
    return Bar(
        ts_event=start + interval_ns, ts_init=start + interval_ns,
        instrument_id=first.instrument_id, ts_open=start, open=first.open,
        high=max(bar.high for bar in group), low=min(bar.low for bar in group),
        close=group[-1].close, volume=volume,
    )  # fmt: skip
