"""Market data from several recordings, symbols and venues, merged into one ordered stream.

A recording is named on the command line as ``--data FILE``, ``--data
SYMBOL=FILE`` or ``--data VENUE:SYMBOL=FILE`` (:func:`parse_data_arg`), which
gives a :class:`DataSpec`. Each recording brings its venue and its symbols:

* a capture ``*.jsonl[.gz]`` is Binance, with every symbol in it;
* raw combined streams ``*.txt[.gz]`` are Binance, the symbols named by the
  messages inside (a file may mix several);
* bars ``*.csv[.gz]`` (or ``*.parquet``, :mod:`genesis.data.parquet`) are one
  symbol, written as ``SYMBOL=`` or told by the file name (the rule is in
  :func:`parse_data_arg`): trade bars (OHLCV) replay as :class:`Bar` events,
  quote bars (``bid_close``, ``ask_close``, ... as in the bundled ``-quote.csv``
  files, told by their header) as one :class:`QuoteTick` per bar at its close
  (:func:`genesis.data.loaders.read_quote_bars`).

``SYMBOL=`` on a capture or streams file keeps only that symbol's events. A
venue other than ``binance`` qualifies every event's ``instrument_id`` as
``venue:SYMBOL`` (:func:`genesis.core.instruments.instrument_id`).

:func:`describe_sources` lists the instruments before any replay;
:func:`open_sources` streams every recording's events merged by ``ts_init``
(when Genesis saw them), ties going to the spec given first and then to file
order, so a merge is deterministic. Files are read lazily, one event at a time
each (``heapq.merge``); nothing is loaded whole. :func:`instruments_for` gives
the instruments of the sources, inferring those no exchangeInfo lists.
"""

from __future__ import annotations

import gzip
import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import IO, Final, Literal, NamedTuple

import msgspec

from genesis.core.events import Bar, MarketEvent
from genesis.core.instruments import DEFAULT_VENUE, Instrument, InstrumentTable, instrument_id
from genesis.data.capture import read_binance_streams, read_spot_capture
from genesis.data.inference import QUOTE_ASSETS, infer_instrument
from genesis.data.loaders import read_bars, read_quote_bars
from genesis.data.parquet import is_parquet, parquet_header
from genesis.data.timeparse import format_ns
from genesis.errors import ConfigError, DataError

__all__ = [
    "DataSpec",
    "SourceInstrument",
    "SourceInstruments",
    "describe_sources",
    "first_event_ns",
    "instruments_for",
    "open_events",
    "open_sources",
    "parse_data_arg",
    "spec_events",
]

Kind = Literal["capture", "streams", "bars"]

KNOWN_VENUES: Final = frozenset(
    {"binance", "bybit", "coinbase", "gemini", "kraken", "okx", "bitmex", "deribit",
     "bitfinex", "bitstamp", "kucoin", "huobi", "ftx"}
)  # fmt: skip
"""Venue names a bar file name may start with (``bybit-btcusd-perp-1m-...csv``)."""

_MARKET_WORDS: Final = frozenset({"spot", "futures"})  # may sit between venue and symbol
_FORMS: Final = "expected FILE, SYMBOL=FILE or VENUE:SYMBOL=FILE"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_SCAN_CHARS: Final = 1 << 20
# Binance payloads name their symbol in "s"; capture REST paths in ?symbol=. Two
# patterns with literal prefixes scan ~10x faster than one alternation.
_SYMBOL_PATTERNS: Final = (
    re.compile(r'"s":\s*"([A-Za-z0-9]+)"'),
    re.compile(r"[?&]symbol=([A-Za-z0-9]+)"),
)
_TS_INIT: Final = attrgetter("ts_init")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSpec:
    """One recording to replay: its file, its venue and optionally its one symbol.

    Attributes:
        path: the recording (plain or ``.gz``).
        venue: lower case, e.g. ``binance``, ``bybit``.
        symbol: upper case; required for bars, a filter for captures and
            streams (None: every symbol in the file).

    Raises:
        ConfigError: an empty or non-canonical venue or symbol.
    """

    path: Path
    venue: str
    symbol: str | None = None
    # added to every event time: recordings of different days replayed side by side
    shift_ns: int = 0

    def __post_init__(self) -> None:
        if self.venue != self.venue.strip().lower() or not self.venue or ":" in self.venue:
            raise ConfigError(f"data {self.path}: venue {self.venue!r}, expected lower case")
        symbol = self.symbol
        if symbol is not None and (symbol != symbol.strip().upper() or not symbol or ":" in symbol):
            raise ConfigError(f"data {self.path}: symbol {symbol!r}, expected upper case")


class SourceInstrument(NamedTuple):
    """One instrument of one recording, as :func:`describe_sources` lists it."""

    instrument_id: str
    venue: str
    symbol: str
    path: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceInstruments:
    """The instruments of a replay (:func:`instruments_for`).

    Attributes:
        table: every listed instrument plus the inferred ones, keyed by
            instrument id (an Instrument's ``symbol`` is the venue's symbol,
            ``BTCUSD``, and its ``venue`` the venue, upper case: ``BYBIT``).
        instrument_ids: the sources' instruments, in the order first described.
        inferred: one printable line per inferred instrument.
    """

    table: InstrumentTable
    instrument_ids: tuple[str, ...]
    inferred: tuple[str, ...]


# --- parsing ---------------------------------------------------------------------


def parse_data_arg(text: str) -> DataSpec:
    """Parse one ``--data`` value: ``FILE``, ``SYMBOL=FILE`` or ``VENUE:SYMBOL=FILE``.

    The venue is the one written; else, for bars, the one the file name starts
    with (a name in :data:`KNOWN_VENUES`); else ``binance``. A capture or
    streams file needs no symbol. A bar file's symbol is the one written, else
    read from its name: drop a leading venue and ``spot``/``futures``, and the
    next ``-``-separated word is the symbol when it is letters and digits
    ending in a known quote asset (USDT, USD, BTC, ... with something before
    it). So ``bybit-btcusd-perp-1m-2022-12-13-trade.csv`` is bybit BTCUSD,
    ``binance-btcusd-perp-...`` binance BTCUSD, ``btcusdt-perp-1m-2022-01.csv``
    binance BTCUSDT, and ``prices.csv`` needs ``SYMBOL=``. An existing file
    whose name holds ``=`` is taken whole.

    Raises:
        ConfigError: an empty part, a missing file, an unknown file type, or a
            bar file whose symbol its name does not tell.
        DataError: a bar file whose header cannot be read.
    """
    where = f"--data {text!r}"
    if not text.strip():
        raise ConfigError(f"{where}: empty, {_FORMS}")
    target, sep, file = ("", "", text) if Path(text).is_file() else text.partition("=")
    venue, symbol = _parse_target(where, target) if sep else (None, None)
    file = file if sep else text
    if not file.strip():
        raise ConfigError(f"{where}: no file after '=', {_FORMS}")
    path = Path(file)
    if not path.is_file():
        why = "is a directory" if path.is_dir() else "no such file"
        raise ConfigError(f"{where}: {why} {file!r}, expected a recording")
    kind = _kind(path, where)
    if kind == "bars":
        _is_quote_bars(path, where)  # reads the header: an unreadable file fails here
        venue = venue or _name_venue(path)
        symbol = symbol or _name_symbol(path, where)
    return DataSpec(path=path, venue=venue or DEFAULT_VENUE, symbol=symbol)


def _parse_target(where: str, target: str) -> tuple[str | None, str]:
    venue, colon, symbol = target.rpartition(":")
    if not target.strip():
        raise ConfigError(f"{where}: empty symbol before '=', {_FORMS}")
    if colon and not venue.strip():
        raise ConfigError(f"{where}: empty venue before ':', {_FORMS}")
    if not symbol.strip():
        raise ConfigError(f"{where}: empty symbol after ':', {_FORMS}")
    if ":" in venue or any(c.isspace() for c in target.strip()):
        raise ConfigError(f"{where}: {target!r} is not a symbol, {_FORMS}")
    return (venue.strip().lower() if colon else None), symbol.strip().upper()


def _kind(path: Path, where: str) -> Kind:
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return "capture"
    if name.endswith(".txt"):
        return "streams"
    if name.endswith(".csv") or path.name.endswith(".parquet"):
        return "bars"
    raise ConfigError(
        f"{where}: unknown recording type {path.name!r}, expected .csv (bars), "
        ".jsonl (capture) or .txt (raw streams), each optionally .gz, or .parquet (bars)"
    )


def _name_words(path: Path) -> list[str]:
    stem = path.name.removesuffix(".parquet").removesuffix(".gz").removesuffix(".csv")
    return stem.lower().split("-")


def _name_venue(path: Path) -> str | None:
    first = _name_words(path)[0]
    return first if first in KNOWN_VENUES else None


def _name_symbol(path: Path, where: str) -> str:
    words = _name_words(path)
    if words[0] in KNOWN_VENUES:
        words = words[1:]
    words = words[1:] if words and words[0] in _MARKET_WORDS else words
    word = words[0].upper() if words else ""
    if (
        word.isalnum()
        and word[:1].isalpha()
        and any(word.endswith(q) and len(word) > len(q) for q in QUOTE_ASSETS)
    ):
        return word
    raise ConfigError(
        f"{where}: cannot tell the symbol of the bars in {path.name!r} from the name, "
        "expected a name like [venue-]btcusdt-... (a symbol ending in a quote asset); "
        f"write SYMBOL={path} or VENUE:SYMBOL={path}"
    )


def symbol_from_name(path: Path) -> str | None:
    """The symbol a file's name gives (``binance-ethbtc-5m-...`` -> ``ETHBTC``), or None."""
    try:
        return _name_symbol(path, f"data {path}")
    except ConfigError:
        return None


def is_quote_bars(path: Path) -> bool:
    """True for a quote-bar CSV (bid/ask closes, no ``close``).

    Raises:
        DataError: the file cannot be read.
    """
    return _is_quote_bars(path, f"data {path}")


def _is_quote_bars(path: Path, where: str) -> bool:
    """True when the bar file's header is a quote bar one: bid/ask closes, no ``close``."""
    if is_parquet(path):
        header = {column.lower() for column in parquet_header(path)}
        return {"bid_close", "ask_close"} <= header and "close" not in header
    try:
        with _open_text(path) as handle:
            header = {column.strip().lower() for column in handle.readline().split(",")}
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: cannot read {path.name}: {exc}") from exc
    return {"bid_close", "ask_close"} <= header and "close" not in header


def _open_text(path: Path) -> IO[str]:
    try:
        with path.open("rb") as probe:
            gzipped = probe.read(2) == _GZIP_MAGIC
        if gzipped:
            return gzip.open(path, "rt", encoding="utf-8-sig")
        return path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file: {exc}") from exc


# --- describing ------------------------------------------------------------------


def describe_sources(specs: Sequence[DataSpec]) -> list[SourceInstrument]:
    """List each recording's instruments, in spec order (a file's sorted by symbol).

    Bars cost nothing (their spec names the symbol); a capture or streams file
    is scanned as text for the symbols its messages name, without parsing
    them. An instrument id may repeat when several recordings hold it.

    Raises:
        ConfigError: a spec's file type is unknown, a bar spec has no symbol its
            name tells, or ``SYMBOL=`` names a symbol its recording lacks.
        DataError: a file is unreadable or names no symbol at all.
    """
    return [row for _, row in _describe(specs)]


def _describe(specs: Sequence[DataSpec]) -> list[tuple[DataSpec, SourceInstrument]]:
    return [
        (spec, SourceInstrument(instrument_id(spec.venue, symbol), spec.venue, symbol, spec.path))
        for spec in specs
        for symbol in _spec_symbols(spec)
    ]


def _spec_symbols(spec: DataSpec) -> list[str]:
    where = f"data {spec.path}"
    if _kind(spec.path, where) == "bars":
        return [spec.symbol or _name_symbol(spec.path, where)]
    found = _recorded_symbols(spec.path)
    if not found:
        raise DataError(f"{spec.path}: no message names a symbol, expected Binance market data")
    if spec.symbol is None:
        return found
    if spec.symbol not in found:
        raise ConfigError(
            f"data {spec.symbol}={spec.path}: no {spec.symbol} in the recording, "
            f"expected one of {', '.join(found)}"
        )
    return [spec.symbol]


def _recorded_symbols(path: Path) -> list[str]:
    found: set[str] = set()
    carry = ""
    try:
        with _open_text(path) as handle:
            while block := handle.read(_SCAN_CHARS):
                text = carry + block
                cut = text.rfind("\n") + 1
                text, carry = text[:cut], text[cut:]
                found.update(_symbols_in(text))
            found.update(_symbols_in(carry))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the file: {exc}") from exc
    return sorted(symbol.upper() for symbol in found)


def _symbols_in(text: str) -> set[str]:
    return {symbol for pattern in _SYMBOL_PATTERNS for symbol in pattern.findall(text)}


# --- streaming -------------------------------------------------------------------


def open_sources(specs: Sequence[DataSpec]) -> Iterator[MarketEvent]:
    """Stream every recording's events merged into one sequence ordered by ``ts_init``.

    Events with the same ``ts_init`` come in spec order, then in file order.
    Each file is read lazily; at any time one event per recording is held.

    Raises:
        ConfigError: now, for a spec whose file type is unknown or a bar spec
            without a symbol.
        DataError: now or on iteration, for an unreadable or malformed file, or
            a recording whose ``ts_init`` goes backwards (it cannot be merged).
    """
    streams = [_in_order(spec.path, spec_events(spec)) for spec in specs]
    return heapq.merge(*streams, key=_TS_INIT)


def spec_events(spec: DataSpec) -> Iterator[MarketEvent]:
    """The events of one recording in file order, with the spec's instrument ids.

    Raises:
        ConfigError / DataError: as :func:`open_sources`.
    """
    events = _spec_events(spec)
    return events if spec.shift_ns == 0 else _shifted(events, spec.shift_ns)


def _spec_events(spec: DataSpec) -> Iterator[MarketEvent]:
    where = f"data {spec.path}"
    kind = _kind(spec.path, where)
    if kind == "bars":
        symbol = spec.symbol or _name_symbol(spec.path, where)
        reader = read_quote_bars if _is_quote_bars(spec.path, where) else read_bars
        return reader(spec.path, instrument_id(spec.venue, symbol))
    # A bare snapshot takes the symbol of the file's messages, never spec.symbol:
    # in a file mixing symbols, the one asked for need not be the snapshot's.
    recording = read_spot_capture if kind == "capture" else read_binance_streams
    events: Iterator[MarketEvent] = recording(spec.path)
    if spec.symbol is not None:
        events = _only(events, spec.symbol)
    return events if spec.venue == DEFAULT_VENUE else _qualified(events, spec.venue)


def _shifted(events: Iterator[MarketEvent], shift_ns: int) -> Iterator[MarketEvent]:
    for event in events:
        times = {"ts_event": event.ts_event + shift_ns, "ts_init": event.ts_init + shift_ns}
        if isinstance(event, Bar):
            times["ts_open"] = event.ts_open + shift_ns
        yield msgspec.structs.replace(event, **times)


def first_event_ns(spec: DataSpec) -> int:
    """``ts_init`` of a recording's first event (as replayed, shift included).

    Raises:
        DataError: the recording holds no event.
    """
    for event in spec_events(spec):
        return event.ts_init
    raise DataError(f"data {spec.path}: no event")


def _only(events: Iterator[MarketEvent], symbol: str) -> Iterator[MarketEvent]:
    return (event for event in events if event.instrument_id == symbol)


def _qualified(events: Iterable[MarketEvent], venue: str) -> Iterator[MarketEvent]:
    ids: dict[str, str] = {}
    for event in events:
        symbol = event.instrument_id
        qualified = ids.get(symbol) or ids.setdefault(symbol, instrument_id(venue, symbol))
        yield msgspec.structs.replace(event, instrument_id=qualified)


def _in_order(path: Path, events: Iterator[MarketEvent]) -> Iterator[MarketEvent]:
    previous = None
    for number, event in enumerate(events, 1):
        if previous is not None and event.ts_init < previous:
            raise DataError(
                f"{path}: event {number} ({type(event).__name__} {event.instrument_id}) has "
                f"ts_init {format_ns(event.ts_init)}, earlier than the previous "
                f"{format_ns(previous)}; expected receive order to merge recordings"
            )
        previous = event.ts_init
        yield event


# --- instruments -----------------------------------------------------------------


def instruments_for(specs: Sequence[DataSpec], table: InstrumentTable) -> SourceInstruments:
    """The instruments of a replay: ``table``'s, plus one inferred for each unlisted.

    An instrument is listed when it is on ``binance`` and ``table`` has its
    symbol. Any other (an unlisted symbol, or any symbol of another venue,
    whose increments Binance's metadata does not give) is inferred from its
    recordings, read whole: base and quote from the symbol, tick and step the
    finest decimal places of its prices and non-zero sizes, at most 1
    (:mod:`genesis.data.inference`), ``venue`` set, ``source="inferred"``.

    Raises:
        ConfigError: as :func:`describe_sources`; an unlisted symbol whose quote
            asset is not recognisable, or with no price in its recordings.
        DataError: an unreadable or malformed recording.
    """
    described = _describe(specs)
    ids = tuple(dict.fromkeys(row.instrument_id for _, row in described))
    unlisted: dict[str, list[tuple[DataSpec, SourceInstrument]]] = {}
    for spec, row in described:
        if row.venue != DEFAULT_VENUE or row.symbol not in table:
            unlisted.setdefault(row.instrument_id, []).append((spec, row))
    inferred: list[Instrument] = []
    lines: list[str] = []
    for iid, group in unlisted.items():
        events = (event for spec, _ in group for event in spec_events(spec))
        row = group[0][1]
        inst, line = infer_instrument(iid, row.venue, row.symbol, events)
        names = ", ".join(dict.fromkeys(spec.path.name for spec, _ in group))
        inferred.append(inst)
        lines.append(f"{line}; from {names}")
    listed = [table.get(symbol) for symbol in table.symbols()]
    return SourceInstruments(
        table=InstrumentTable([*listed, *inferred]), instrument_ids=ids, inferred=tuple(lines)
    )


# --- one file, one symbol (single-instrument callers) ----------------------------


def open_events(path: Path, symbol: str) -> Iterator[MarketEvent]:
    """Stream the market events of ``path`` in file order.

    ``*.csv[.gz]`` are bars for ``symbol`` (quote bars give quotes, as in
    :func:`spec_events`); ``*.jsonl[.gz]`` is a Binance spot
    capture (REST snapshots and combined-stream messages, every symbol in it);
    ``*.txt[.gz]`` is raw combined-stream text (``<recv ns> <json>``) of ``symbol``.

    Raises:
        DataError: an unreadable or malformed file (file:line in the message).
    """
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return read_spot_capture(path)
    if name.endswith(".txt"):
        return read_binance_streams(path, symbol)
    if _is_quote_bars(path, f"data {path}"):
        return read_quote_bars(path, symbol)
    return read_bars(path, symbol)
