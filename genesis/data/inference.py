"""Instruments inferred from recorded market data, for symbols no venue metadata lists.

The tick size is the finest decimal place of the prices seen and the step size
the finest of the non-zero sizes seen (bar volumes, trade sizes, quote sizes,
book quantities), at most 1, as the backtest's ``infer_tick_size`` reads a bar
file. Trailing zeros do not count: Binance pads ``2683.80000000`` to eight
places, which says nothing about its tick. A venue's grid can be coarser than
what the data shows (Bybit quotes BTCUSD in halves, yet its 2022-12-13 bars hold
a few prints in cents), so an inferred tick is a floor, never a proof.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from genesis.core.events import Bar, BookDelta, BookSnapshot, MarketEvent, QuoteTick, TradeTick
from genesis.core.instruments import Instrument
from genesis.errors import ConfigError

__all__ = ["DEFAULT_STEP", "QUOTE_ASSETS", "FinestDecimal", "infer_instrument", "split_pair"]

QUOTE_ASSETS: Final = (
    "FDUSD", "USDT", "BUSD", "USDC", "TUSD", "USD", "EUR", "GBP", "JPY", "BTC", "ETH",
    "BNB", "TRY", "BRL", "AUD", "CHF", "CAD",
)  # fmt: skip
"""Quote assets recognised at the end of a symbol, longest first (USDT before USD)."""

DEFAULT_STEP: Final = Decimal("0.00000001")
"""The step size when a recording has no non-zero size at all."""

_SEEN_LIMIT: Final = 100_000  # distinct values remembered to skip repeats (memory bound)


class FinestDecimal:
    """The finest decimal place written in the values added, trailing zeros ignored, at most 1.

    ``17204``, ``17207.6`` -> 0.1; ``2683.80000000`` -> 0.1; nothing but integers -> 1.
    Zero is skipped (an empty book level or a bar without volume tells nothing).
    """

    __slots__ = ("_exponent", "_seen")

    def __init__(self) -> None:
        self._exponent: int | None = None
        self._seen: set[Decimal] = set()

    def add(self, value: Decimal) -> None:
        """Take ``value`` (finite, >= 0) into account."""
        if not value or value in self._seen:
            return
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()
        self._seen.add(value)
        exponent = min(0, int(value.normalize().as_tuple().exponent))
        if self._exponent is None or exponent < self._exponent:
            self._exponent = exponent

    def result(self) -> Decimal | None:
        """The increment (``Decimal('0.01')``, ``Decimal('1')``); None if nothing was added."""
        return None if self._exponent is None else Decimal((0, (1,), self._exponent))


def split_pair(symbol: str) -> tuple[str, str]:
    """``BTCUSD`` -> ``("BTC", "USD")`` by the quote assets in :data:`QUOTE_ASSETS`.

    Raises:
        ConfigError: no known quote asset ends the symbol (or nothing is left before it).
    """
    for quote in QUOTE_ASSETS:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ConfigError(
        f"instrument {symbol}: cannot tell its base and quote assets, expected a symbol "
        f"ending in one of {', '.join(QUOTE_ASSETS)}"
    )


def infer_instrument(
    instrument_id: str, venue: str, symbol: str, events: Iterable[MarketEvent]
) -> tuple[Instrument, str]:
    """Build the instrument of ``symbol`` on ``venue`` from its recorded events.

    Args:
        instrument_id: the kernel's id (``bybit:BTCUSD``): only events carrying
            it are read.
        venue: the venue, stored upper case as exchangeInfo instruments are
            (``BYBIT``), so ``InstrumentTable`` keys the instrument by its id.
        symbol: the venue's symbol (``BTCUSD``), split into base and quote assets.
        events: the recorded events (others' are skipped).

    Returns:
        The instrument (``source="inferred"``) and a one-line account of it.

    Raises:
        ConfigError: the symbol's assets are not recognisable, or no price was seen.
    """
    base, quote = split_pair(symbol)
    prices, sizes = FinestDecimal(), FinestDecimal()
    for event in events:
        if event.instrument_id == instrument_id:
            _take(event, prices, sizes)
    tick, step = prices.result(), sizes.result()
    if tick is None:
        raise ConfigError(f"instrument {instrument_id}: no price recorded, cannot infer its tick")
    how_step = "the sizes' finest decimal" if step is not None else "no size recorded: default"
    inst = Instrument(
        symbol=symbol, base=base, quote=quote, tick_size=tick,
        step_size=step or DEFAULT_STEP, venue=venue.upper(), source="inferred",
    )  # fmt: skip
    return inst, (
        f"instrument {instrument_id} inferred (not listed): base {base}, quote {quote}, "
        f"tick {tick:f} (the prices' finest decimal), step {inst.step_size:f} ({how_step})"
    )


def _take(event: MarketEvent, prices: FinestDecimal, sizes: FinestDecimal) -> None:
    if isinstance(event, Bar):
        for price in (event.open, event.high, event.low, event.close):
            prices.add(price)
        sizes.add(event.volume)
    elif isinstance(event, TradeTick):
        prices.add(event.price)
        sizes.add(event.size)
    elif isinstance(event, QuoteTick):
        prices.add(event.bid)
        prices.add(event.ask)
        sizes.add(event.bid_size)
        sizes.add(event.ask_size)
    elif isinstance(event, BookSnapshot | BookDelta):
        for price, qty in (*event.bids, *event.asks):
            prices.add(price)
            sizes.add(qty)
