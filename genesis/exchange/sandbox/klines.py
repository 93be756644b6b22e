"""Historical klines of the sandbox: real bundled bar files served as ``GET /api/v3/klines``.

Each symbol with a history file (by default the bundled BTCUSDT minute month and the
six altcoin/BTC 5-minute series, ``genesis.resources``) answers klines from it, read
lazily on the first request. An interval that is a whole multiple of the file's is
aggregated from it (open of the first bar, highest high, lowest low, close of the last,
summed volume; buckets aligned to the epoch, as Binance's are, so a day starts at 00:00
UTC); a finer or unaligned interval is ``-1120 Invalid interval.``. A gap in the file (no
bar for a minute) stays a gap, as on Binance, which omits minutes without trades.

The file's volume is served as the kline volume (index 5); the quote volume, trade
count and taker volumes are not in the files and are served as 0.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from genesis.data.barfile import INTERVAL_MS
from genesis.data.loaders import read_bars
from genesis.exchange.sandbox.symbols import fmt
from genesis.resources import ALTBTC_5M_BARS, BTCUSDT_1M_BARS

__all__ = ["BUNDLED_KLINES", "INTERVAL_MS", "KlineHistory"]

BUNDLED_KLINES: Final[Mapping[str, Path]] = {"BTCUSDT": BTCUSDT_1M_BARS, **ALTBTC_5M_BARS}
"""The default history: symbol -> real bar file (see ``genesis/resources/PROVENANCE.md``)."""

# one bar: open ms, open, high, low, close, volume
_Bar = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


class KlineHistory:
    """Klines of the symbols in ``files`` (symbol -> bar CSV), aggregated per interval.

    Args:
        files: symbol -> a ``timestamp,open,high,low,close[,volume]`` file; read on first use.
    """

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files = dict(files)
        self._base: dict[str, tuple[int, list[_Bar]]] = {}
        self._series: dict[tuple[str, int], tuple[list[int], list[list[Any]]]] = {}

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._files

    def serves(self, symbol: str, interval_ms: int) -> bool:
        """Whether ``interval_ms`` is a whole multiple of ``symbol``'s file interval."""
        step, _ = self._bars(symbol)
        return interval_ms >= step and interval_ms % step == 0

    def rows(
        self, symbol: str, interval_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]]:
        """Binance kline rows with ``start <= open time <= end``: the first ``limit`` when
        ``start`` is given, else the last ``limit`` (Binance's rule)."""
        opens, rows = self._aggregated(symbol, interval_ms)
        lo = bisect.bisect_left(opens, start) if start is not None else 0
        hi = bisect.bisect_right(opens, end) if end is not None else len(opens)
        if start is not None:
            return rows[lo : min(hi, lo + limit)]
        return rows[max(lo, hi - limit) : hi]

    def _bars(self, symbol: str) -> tuple[int, list[_Bar]]:
        if symbol not in self._base:
            bars = read_bars(self._files[symbol], symbol)
            loaded = [
                (b.ts_open // 1_000_000, b.open, b.high, b.low, b.close, b.volume) for b in bars
            ]
            step = min(b[0] - a[0] for a, b in itertools.pairwise(loaded))
            self._base[symbol] = (step, loaded)
        return self._base[symbol]

    def _aggregated(self, symbol: str, interval_ms: int) -> tuple[list[int], list[list[Any]]]:
        key = (symbol, interval_ms)
        if key not in self._series:
            rows = [_row(bar, interval_ms) for bar in _buckets(self._bars(symbol)[1], interval_ms)]
            self._series[key] = ([r[0] for r in rows], rows)
        return self._series[key]


def _buckets(bars: list[_Bar], interval_ms: int) -> list[_Bar]:
    out: list[_Bar] = []
    for t, o, h, lo, c, v in bars:
        start = t - t % interval_ms
        if out and out[-1][0] == start:
            t0, o0, h0, l0, _, v0 = out[-1]
            out[-1] = (t0, o0, max(h0, h), min(l0, lo), c, v0 + v)
        else:
            out.append((start, o, h, lo, c, v))
    return out


def _row(bar: _Bar, interval_ms: int) -> list[Any]:
    t, o, h, lo, c, v = bar
    zero = fmt(Decimal(0))
    return [t, fmt(o), fmt(h), fmt(lo), fmt(c), fmt(v), t + interval_ms - 1, zero, 0, zero,
            zero, "0"]  # fmt: skip
