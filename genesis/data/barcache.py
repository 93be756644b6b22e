"""A parsed bar file, kept on disk in columns so that the next run skips the CSV.

Parsing the bundled month (gzip, CSV split, timestamps, five ``Decimal`` a row) is
~2.3 µs a bar, a fifth of a whole reference backtest; every run of a parameter
search, walk-forward or repeated backtest parses the same file again. The first run
parses it as always (:func:`genesis.data.loaders.read_bars`, with every check) and
writes the columns it saw; later runs read the columns and build the same ``Bar``
objects, equal field for field (tests/unit/data/test_barcache.py checks every bundled
bar file, and that a backtest writes the same bytes either way).

Theory of operation
-------------------
An entry is named by what makes its bars: the SHA-256 of the file's bytes, the
instrument id stamped on the bars, the interval, and the SHA-256 of the loader's own
source (so a change of the parsing rules never reads an old entry). It holds the open
times (int64) and, for each of open, high, low, close and volume, an index into the
distinct decimal texts of the file (``str(Decimal)`` round-trips exactly: sign, digits
and exponent). Reading it builds one ``Decimal`` per distinct text and one ``Bar`` per
row, lazily, as the backtest consumes them.

An entry is written only after the whole file parsed without error (a bad file raises
on every run, from the parser, with its line) and is renamed into place, so a reader
never sees half an entry; an entry that does not decode is ignored and rewritten. The
directory is ``GENESIS_CACHE_DIR`` (``off`` disables the cache), else
``$XDG_CACHE_HOME/genesis`` or ``~/.cache/genesis``; it keeps the newest
``MAX_ENTRIES`` entries. A directory that cannot be written only costs the speed-up.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from array import array
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from genesis.core.events import Bar
from genesis.data import loaders, timeparse
from genesis.data.loaders import read_bars

__all__ = ["MAX_ENTRIES", "cache_dir", "cached_bars", "entry_path"]

MAX_ENTRIES: Final = 32
_FORMAT: Final = 1
_SUFFIX: Final = ".bars"
_FIELDS: Final = 5  # open, high, low, close, volume
_LOADER_DIGEST: dict[str, str] = {}


# One cached bar file: format, instrument id, interval, rows, the open times (int64
# bytes), rows x (open, high, low, close, volume) indexes into the texts (int32 bytes),
# and the distinct decimal texts. A plain tuple, not a msgspec Struct: this module is
# compiled, and mypyc compiles no Struct subclass.
_Entry = tuple[int, str, int, int, bytes, bytes, list[str]]


def cache_dir() -> Path | None:
    """Where entries live, from ``GENESIS_CACHE_DIR``; None when it says ``off``."""
    text = os.environ.get("GENESIS_CACHE_DIR", "").strip()
    if text.lower() in ("off", "0", "none"):
        return None
    if text:
        return Path(text)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "genesis"


def entry_path(directory: Path, path: Path, instrument_id: str, interval_ns: int) -> Path:
    """The entry of ``path``'s bars stamped ``instrument_id`` at ``interval_ns``."""
    key = hashlib.sha256()
    for part in (_file_digest(path), instrument_id, str(interval_ns), _loader_digest()):
        key.update(part.encode() + b"\0")
    return directory / "bars" / f"{key.hexdigest()[:32]}{_SUFFIX}"


def cached_bars(
    path: Path, instrument_id: str, interval_ns: int, directory: Path | None
) -> Iterator[Bar]:
    """The bars of ``path`` as :func:`read_bars` gives them: from the cache entry when
    there is one, else parsed (and the entry written once the whole file parsed).

    Raises:
        DataError: as :func:`read_bars` (only from the parser: an entry exists only for a
            file that parsed).
    """
    if directory is None or path.suffix == ".parquet":
        return read_bars(path, instrument_id, interval_ns=interval_ns)
    try:
        entry = entry_path(directory, path, instrument_id, interval_ns)
        loaded = _load(entry, instrument_id, interval_ns)
    except OSError:
        return read_bars(path, instrument_id, interval_ns=interval_ns)
    if loaded is not None:
        return _bars(loaded)
    return _parse_and_store(path, instrument_id, interval_ns, entry)


def _load(entry: Path, instrument_id: str, interval_ns: int) -> _Entry | None:
    """The entry's columns, or None when it is missing or unreadable (then rewritten)."""
    try:
        data = entry.read_bytes()
    except FileNotFoundError:
        return None
    try:
        loaded: _Entry = msgspec.msgpack.decode(data, type=_Entry)
    except msgspec.DecodeError:
        return None
    form, iid, interval, rows, opens, index, _ = loaded
    fits = (
        form == _FORMAT
        and iid == instrument_id
        and interval == interval_ns
        and len(opens) == 8 * rows
        and len(index) == _FIELDS * rows * array("i").itemsize
    )
    return loaded if fits else None


def _bars(entry: _Entry) -> Iterator[Bar]:
    """The entry's bars, built as they are consumed."""
    _, iid, interval, _, ts_bytes, index_bytes, texts = entry
    values = [Decimal(text) for text in texts]
    opens = array("q")
    opens.frombytes(ts_bytes)
    packed = array("i")
    packed.frombytes(index_bytes)
    index: list[int] = packed.tolist()  # a list: compiled code indexes it natively
    i = 0
    for ts in opens:
        end = ts + interval
        yield Bar(
            ts_event=end, ts_init=end, instrument_id=iid, ts_open=ts,
            open=values[index[i]], high=values[index[i + 1]], low=values[index[i + 2]],
            close=values[index[i + 3]], volume=values[index[i + 4]],
        )  # fmt: skip
        i += _FIELDS


def _parse_and_store(
    path: Path, instrument_id: str, interval_ns: int, entry: Path
) -> Iterator[Bar]:
    """Parse ``path`` (yielding each bar at once) and write the entry after the last bar."""
    opens, index = array("q"), array("i")
    texts: dict[str, int] = {}
    intern = texts.setdefault
    for bar in read_bars(path, instrument_id, interval_ns=interval_ns):
        opens.append(bar.ts_open)
        for value in (bar.open, bar.high, bar.low, bar.close, bar.volume):
            text = str(value)
            index.append(intern(text, len(texts)))
        yield bar
    columns = (_FORMAT, instrument_id, interval_ns, len(opens), opens.tobytes(), index.tobytes())
    _store(entry, (*columns, list(texts)))


def _store(entry: Path, columns: _Entry) -> None:
    """Write ``columns`` to ``entry`` atomically and drop the oldest entries beyond
    ``MAX_ENTRIES``; a directory that cannot be written is left alone."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(msgspec.msgpack.encode(columns))
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(entry.parent)
    except OSError:
        return


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob(f"*{_SUFFIX}"), key=_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        old.unlink(missing_ok=True)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _loader_digest() -> str:
    """SHA-256 of the parser's sources: an entry made by other parsing rules is not read."""
    if not _LOADER_DIGEST:
        digest = hashlib.sha256()
        for module in (loaders, timeparse):
            source: Any = getattr(module, "__file__", None) or ""
            digest.update(Path(source).with_suffix(".py").read_bytes())
        _LOADER_DIGEST["sources"] = digest.hexdigest()
    return _LOADER_DIGEST["sources"]
