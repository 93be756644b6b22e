"""Bar files in Parquet (pyarrow): the same columns as the bar CSV, written atomically.

Schema: ``timestamp`` is ``timestamp[ms, tz=UTC]`` (the bar's open), and ``open``,
``high``, ``low``, ``close``, ``volume`` are strings: the venue's decimal text, so a
price reaches ``Decimal`` exactly as it does from a CSV (no float on the way). pandas
reads such a file with ``pd.read_parquet`` (prices as text; ``astype(float)`` for
analytics).

The loaders read a Parquet file as rows of strings (the timestamp as epoch
milliseconds), so one set of checks and error messages serves both formats.

pyarrow is an optional dependency (``pip install 'genesis[research]'``); without it
reading or writing Parquet raises ``ConfigError`` saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from genesis.errors import ConfigError, DataError

__all__ = ["BAR_COLUMNS", "is_parquet", "parquet_header", "parquet_rows", "write_parquet_bars"]

BAR_COLUMNS: Final = ("timestamp", "open", "high", "low", "close", "volume")
_BATCH_ROWS: Final = 8192


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet file (by its ``.parquet`` suffix)."""
    return path.suffix == ".parquet"


def _pyarrow() -> Any:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise ConfigError(
            "Parquet needs pyarrow, which is not installed: pip install 'genesis[research]'"
            " (or pyarrow), or use CSV"
        ) from None
    return pa, pq


def _open(path: Path) -> Any:
    _, pq = _pyarrow()
    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path}:1: cannot read the Parquet file: {exc}") from exc


def parquet_header(path: Path) -> list[str]:
    """The column names of a Parquet file.

    Raises:
        ConfigError: pyarrow is missing. DataError: the file is not readable Parquet.
    """
    return list(_open(path).schema_arrow.names)


def parquet_rows(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """The header and a lazy iterator of rows as strings, a batch at a time.

    Timestamps (any Arrow timestamp unit) become epoch milliseconds when whole
    milliseconds, else nanoseconds; other columns their text (``None`` as "").

    Raises:
        ConfigError: pyarrow is missing. DataError: the file is not readable Parquet.
    """
    pa, _ = _pyarrow()
    handle = _open(path)
    header = list(handle.schema_arrow.names)
    return header, _rows(pa, handle, path)


def _rows(pa: Any, handle: Any, path: Path) -> Iterator[list[str]]:
    try:
        for batch in handle.iter_batches(batch_size=_BATCH_ROWS):
            columns = [_texts(pa, column) for column in batch.columns]
            yield from (list(row) for row in zip(*columns, strict=True))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the Parquet file: {exc}") from exc


def _texts(pa: Any, column: Any) -> list[str]:
    if pa.types.is_timestamp(column.type):
        ns = column.cast(pa.timestamp("ns")).cast(pa.int64()).to_pylist()
        whole_ms = all(v is None or v % 1_000_000 == 0 for v in ns)
        return ["" if v is None else str(v // 1_000_000 if whole_ms else v) for v in ns]
    return ["" if v is None else str(v) for v in column.to_pylist()]


def write_parquet_bars(path: Path, rows: Sequence[Sequence[str | int]]) -> None:
    """Write ``rows`` of (open ms, open, high, low, close, volume) to ``path`` atomically.

    The file is written beside ``path`` and renamed over it after an fsync, so a
    reader (or a killed process) sees the old file or the new one, never half of one.
    The same rows give the same bytes.

    Raises:
        ConfigError: pyarrow is missing.
    """
    pa, pq = _pyarrow()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(BAR_COLUMNS)
    arrays = [pa.array(columns[0], type=pa.int64()).cast(pa.timestamp("ms", tz="UTC"))]
    arrays += [pa.array(column, type=pa.string()) for column in columns[1:]]
    table = pa.Table.from_arrays(arrays, names=list(BAR_COLUMNS))
    temp = path.with_name(path.name + ".tmp")
    pq.write_table(table, temp, compression="zstd")
    with temp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)
