"""Deterministic writers for backtest output files (trades.csv, equity.csv)."""

from __future__ import annotations

import csv
from array import array
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from genesis.core.commands import SubmitOrder
from genesis.core.events import OrderFilled
from genesis.execution.tca import TcaRecord
from genesis.portfolio.accounting import ClosedLot

__all__ = [
    "Discard",
    "EquityWriter",
    "FillWriter",
    "OrderWriter",
    "TcaWriter",
    "TradeWriter",
    "format_ts",
    "write_trades",
]

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "side",
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "fees",
)


def format_ts(ts_ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC; sub-second digits only when non-zero."""
    seconds, rest = divmod(ts_ns, _NS)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{rest // 1000:06d}" if rest else text


class _DayCache:
    """Formats timestamps fast: the date part cached per day, the time of day per second.

    Called once per equity row: the offset into the cached day takes one subtraction
    and small-integer arithmetic (no ``divmod`` of the full nanosecond timestamp, which
    built a tuple per row), and callers call ``format`` on the instance so that the
    compiled build dispatches it natively.
    """

    __slots__ = ("_day_ns", "_prefix", "_times")

    def __init__(self) -> None:
        self._day_ns = 0  # start of the cached day; no day is cached while _prefix is ""
        self._prefix = ""
        self._times: dict[int, str] = {}

    def format(self, ts_ns: int) -> str:
        offset = ts_ns - self._day_ns
        if offset < 0 or offset >= _DAY_NS or not self._prefix:
            day = ts_ns // _DAY_NS
            self._day_ns = day * _DAY_NS
            self._prefix = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d ")
            offset = ts_ns - self._day_ns
        seconds = offset // _NS
        rest = offset - seconds * _NS
        clock = self._times.get(seconds)
        if clock is None:
            minutes, sec = divmod(seconds, 60)
            hours, minute = divmod(minutes, 60)
            clock = self._times[seconds] = f"{hours:02d}:{minute:02d}:{sec:02d}"
        if rest:
            return f"{self._prefix}{clock}.{rest // 1000:06d}"
        return self._prefix + clock


class Discard:
    """Stands in for any writer below in a run that writes no files; counts the rows."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def add(self, *row: object) -> None:
        self.count += 1

    def add_chunk(self, *rows: object) -> None:
        return None

    def close(self) -> None:
        return None


class EquityWriter:
    """Writes ``timestamp,equity`` rows, a chunk at a time."""

    def __init__(self, path: Path) -> None:
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._fh.write("timestamp,equity\n")
        self._days = _DayCache()

    def add(self, ts_ns: int, equity: str) -> None:
        """Write one row."""
        self._fh.write(f"{self._days.format(ts_ns)},{equity}\n")

    def add_chunk(self, times_ns: array[int], equity: list[str]) -> None:
        """Write one row per (time, equity text) pair, in one write call."""
        days = self._days
        rows = [f"{days.format(t)},{e}\n" for t, e in zip(times_ns, equity, strict=True)]
        self._fh.write("".join(rows))

    def close(self) -> None:
        self._fh.close()


class TradeWriter:
    """Streams closed lots to ``trades.csv`` as they close (one row per closed lot)."""

    def __init__(self, path: Path) -> None:
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(TRADE_COLUMNS)
        self._days = _DayCache()
        self.count = 0

    def add(self, lot: ClosedLot) -> None:
        days = self._days
        self._writer.writerow(
            (
                days.format(lot.entry_ts),
                days.format(lot.exit_ts),
                lot.direction,
                lot.quantity,
                lot.entry_px,
                lot.exit_px,
                lot.net_pnl,
                lot.fees,
            )
        )
        self.count += 1

    def close(self) -> None:
        self._fh.close()


FILL_COLUMNS = (
    "time",
    "venue",
    "instrument",
    "side",
    "quantity",
    "price",
    "fee",
    "fee_currency",
    "liquidity",
    "client_order_id",
    "strategy",
    "trade_id",
)


class FillWriter:
    """Streams every fill to ``fills.csv``: one row per execution, in the order booked."""

    def __init__(self, path: Path) -> None:
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(FILL_COLUMNS)
        self._days = _DayCache()
        self.count = 0

    def add(self, fill: OrderFilled) -> None:
        self._writer.writerow(
            (
                self._days.format(fill.ts_event),
                fill.venue,
                fill.instrument_id,
                fill.side.value,
                fill.last_qty,
                fill.last_px,
                fill.fee,
                fill.fee_currency,
                fill.liquidity.value,
                fill.client_order_id,
                fill.strategy_id,
                fill.trade_id,
            )
        )
        self.count += 1

    def close(self) -> None:
        self._fh.close()


ORDER_COLUMNS = (
    "time",
    "instrument",
    "client_order_id",
    "strategy",
    "side",
    "type",
    "quantity",
    "price",
    "trigger_price",
    "time_in_force",
    "post_only",
    "reduce_only",
    "oco_group",
    "stop_loss",
    "take_profit",
    "emulated",
)


def _text(value: object) -> object:
    return "" if value is None else value


class OrderWriter:
    """Streams every order intent to ``orders.csv``: one row per ``SubmitOrder`` the kernel
    sent (held orders included), in the order sent. The journal export writes the same rows
    from a session's journaled intents (``genesis journal export``), so a replay and the
    session it replays compare byte for byte."""

    def __init__(self, path: Path) -> None:
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(ORDER_COLUMNS)
        self._days = _DayCache()
        self.count = 0

    def add(self, cmd: SubmitOrder) -> None:
        self._writer.writerow(
            (
                self._days.format(cmd.ts_init),
                cmd.instrument_id,
                cmd.client_order_id,
                cmd.strategy_id,
                cmd.side.value,
                cmd.order_type.value,
                cmd.quantity,
                _text(cmd.price),
                _text(cmd.trigger_price),
                cmd.time_in_force.value,
                int(cmd.post_only),
                int(cmd.reduce_only),
                cmd.oco_group,
                _text(cmd.stop_loss),
                _text(cmd.take_profit),
                int(cmd.emulated),
            )
        )
        self.count += 1

    def close(self) -> None:
        self._fh.close()


TCA_COLUMNS = (
    "parent_id", "strategy", "instrument", "algo", "side", "quantity", "filled", "fill_ratio",
    "children", "fills", "start", "end", "duration_s", "horizon_s", "arrival_price",
    "average_price", "interval_vwap", "finish_mid", "fees", "pretrade_cost_bps",
    "slippage_arrival_bps", "slippage_vwap_bps", "impact_bps", "fees_bps", "reason",
)  # fmt: skip


class TcaWriter:
    """``tca.csv``: one row per parent order, its post-trade analysis (execution.tca)."""

    def __init__(self, path: Path) -> None:
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(TCA_COLUMNS)
        self._days = _DayCache()
        self.count = 0

    def add(self, record: TcaRecord) -> None:
        row = record.as_fields()
        row["start"] = self._days.format(record.start_ns)
        row["end"] = self._days.format(record.end_ns)
        self._writer.writerow(["" if row[c] is None else row[c] for c in TCA_COLUMNS])
        self.count += 1

    def close(self) -> None:
        self._fh.close()


def write_trades(path: Path, lots: Iterable[ClosedLot]) -> int:
    """Write closed trades (one row per closed lot); return the row count."""
    writer = TradeWriter(path)
    try:
        for lot in lots:
            writer.add(lot)
    finally:
        writer.close()
    return writer.count
