"""Batched writes: multi-row statements, per-table grouping, and pipelined durability markers."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.errors import StorageError
from genesis.storage import (
    AuditRecord,
    BalanceRecord,
    BatchingWriter,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    SqliteRepository,
    StrategyStateRecord,
    WriteRecord,
    open_repository,
)
from genesis.storage.repository import MAX_PARAMS, batch_groups, multi_row
from genesis.storage.sqlite import _Abandoned, _write_all

INSERT = "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING"


def order(coid: str, status: OrderStatus = OrderStatus.SUBMITTED, ts: int = 1) -> OrderRecord:
    return OrderRecord(
        coid, "S-1", "BINANCE", "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal("0.02"),
        Decimal("28776.01"), status, Decimal(0), "", ts, ts,
    )  # fmt: skip


def fill(trade_id: str, coid: str = "O-1") -> FillRecord:
    return FillRecord(
        "BINANCE", "BTCUSDT", trade_id, coid, "V-1", Side.BUY, Decimal("57552.02"),
        Decimal("0.00042"), Decimal("0.02417185"), "USDT", 10,
    )  # fmt: skip


def test_multi_row_repeats_the_values_group_in_power_of_two_chunks() -> None:
    """11 rows become statements of 8, 2 and 1 rows, parameters flat and in order."""
    rows = [(i, f"b{i}") for i in range(11)]

    statements = multi_row(INSERT, rows)

    assert [s.count("(?, ?)") for s, _ in statements] == [8, 2, 1]
    assert [p for _, params in statements for p in params] == [p for r in rows for p in r]
    assert statements[-1][0] == INSERT
    assert statements[0][0].endswith(") ON CONFLICT (a) DO NOTHING")


def test_multi_row_exact_fills_each_statement_up_to_the_parameter_limit() -> None:
    """``exact``: as many rows as fit under MAX_PARAMS per statement, the rest in the last."""
    rows = [(i, "b") for i in range(MAX_PARAMS // 2 + 3)]

    statements = multi_row(INSERT, rows, exact=True)

    assert [len(params) for _, params in statements] == [MAX_PARAMS, 6]


def test_batch_groups_write_parents_first_and_keep_the_last_upsert_per_key() -> None:
    """Orders come first (events reference them); three states of one order become the last."""
    records: list[WriteRecord] = [
        OrderEventRecord("O-1", 1, "SubmitOrder", "{}"),
        order("O-1", OrderStatus.SUBMITTED),
        fill("T-1"),
        order("O-2"),
        order("O-1", OrderStatus.CANCELED, ts=3),
        fill("T-1"),
    ]

    groups = batch_groups(records)

    assert [sql.split(" (")[0] for sql, _ in groups] == [
        "INSERT INTO orders",
        "INSERT INTO order_events",
        "INSERT INTO fills",
    ]
    orders = groups[0][1]
    assert [(r[0], r[8]) for r in orders] == [("O-1", "CANCELED"), ("O-2", "SUBMITTED")]
    assert len(groups[2][1]) == 2  # duplicate fills stay: the statement skips the second


def test_batch_groups_refuse_an_unknown_record_type() -> None:
    """Anything that is not a WriteRecord is a bug: TypeError, nothing grouped."""
    with pytest.raises(TypeError, match="str is not a WriteRecord"):
        batch_groups(["not a record"])  # type: ignore[list-item]


# --- a batch commits exactly what writing the records one by one commits -------------

_IDS = st.sampled_from(["O-1", "O-2", "O-3"])
_RECORDS = st.lists(
    st.one_of(
        st.builds(order, _IDS, st.sampled_from(list(OrderStatus)), st.integers(1, 9)),
        st.builds(OrderEventRecord, _IDS, st.integers(1, 9), st.just("Ev"), st.just("{}")),
        st.builds(fill, st.sampled_from(["T-1", "T-2"]), _IDS),
        st.builds(
            PositionRecord, st.just("BINANCE"), st.sampled_from(["BTCUSDT", "ETHUSDT"]),
            st.decimals("-5", "5", places=8), st.just(Decimal("57552.02")),
            st.just(Decimal("0.5")), st.integers(1, 9),
        ),
        st.builds(
            BalanceRecord, st.just("BINANCE"), st.sampled_from(["BTC", "USDT"]),
            st.decimals("0", "1000", places=8), st.just(Decimal(0)), st.integers(1, 9),
        ),
        st.builds(StrategyStateRecord, st.just("S-1"), st.integers(1, 9), st.binary(max_size=4)),
        st.builds(AuditRecord, st.integers(1, 9), st.just("daemon"), st.text("ab", max_size=3),
                  st.just("{}")),
    ),
    max_size=25,
)  # fmt: skip


async def _contents(repo: SqliteRepository) -> tuple[object, ...]:
    events = [await repo.order_events(c) for c in ("O-1", "O-2", "O-3")]
    return (
        await repo.load_orders(), events, await repo.fills_since(0),
        await repo.load_positions(), await repo.load_balances(), await repo.audit_log(),
        await repo.load_strategy_state("S-1"),
        await repo.verify_chain(),  # the same hashes: batches link as single appends
    )  # fmt: skip


async def _write(path: Path, batches: Sequence[Sequence[WriteRecord]]) -> tuple[object, ...]:
    repo = await open_repository(None, path)
    assert isinstance(repo, SqliteRepository)
    try:
        for batch in batches:
            await repo.write_batch(batch)
        return await _contents(repo)
    finally:
        await repo.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_RECORDS)
def test_one_batch_commits_the_same_rows_as_one_record_at_a_time(
    records: list[WriteRecord],
) -> None:
    """Any mix of records (events after their order) gives the same tables either way."""
    created: set[str] = set()
    kept = []
    for r in records:  # the journal writes an order before its events
        if isinstance(r, OrderRecord):
            created.add(r.client_order_id)
        if not isinstance(r, OrderEventRecord) or r.client_order_id in created:
            kept.append(r)
    with tempfile.TemporaryDirectory() as tmp:
        batched = asyncio.run(_write(Path(tmp) / "a", [kept]))
        one_by_one = asyncio.run(_write(Path(tmp) / "b", [[r] for r in kept]))

    assert batched == one_by_one


async def test_a_batch_larger_than_one_statement_commits_every_row(tmp_path: Path) -> None:
    """3,000 orders (more parameters than one statement takes) are all written, in one batch."""
    repo = await open_repository(None, tmp_path)
    orders = [order(f"O-{i:05d}") for i in range(3_000)]

    await repo.write_batch(orders)
    loaded = await repo.load_orders()
    await repo.close()

    assert loaded == sorted(orders, key=lambda o: o.client_order_id)


async def test_a_failing_batch_on_sqlite_leaves_nothing_and_the_next_one_commits(
    tmp_path: Path,
) -> None:
    """An event of an unknown order fails the whole batch (rolled back); the connection works."""
    repo = await open_repository(None, tmp_path)

    with pytest.raises(StorageError, match="FOREIGN KEY") as failed:
        await repo.write_batch([fill("T-1"), OrderEventRecord("O-404", 1, "Ev", "{}")])
    await repo.write_batch([fill("T-2")])
    fills = await repo.fills_since(0)
    await repo.close()

    assert not failed.value.transient
    assert [f.trade_id for f in fills] == ["T-2"]


# --- pipelined durability markers ----------------------------------------------------


class Recorder:
    """A repository stub that keeps each committed batch; fails when ``fail`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[WriteRecord]] = []
        self.fail: StorageError | None = None

    async def write_batch(self, records: Sequence[WriteRecord]) -> None:
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(records))


async def test_markers_resolve_in_order_once_what_preceded_them_is_committed() -> None:
    """Two rounds queued back to back share one commit; both markers then resolve."""
    repo = Recorder()
    async with BatchingWriter(repo) as writer:  # type: ignore[arg-type]
        writer.submit_nowait(order("O-1"))
        first = await writer.mark()
        writer.submit_nowait(order("O-2"))
        second = await writer.mark()
        pending = (first.done(), second.done())
        await second

    assert pending == (False, False)
    assert first.done()
    assert repo.batches == [[order("O-1"), order("O-2")]]


async def test_a_marker_fails_when_its_batch_fails_for_good() -> None:
    """A permanent error fails the marker: the round behind it must not be sent."""
    repo = Recorder()
    repo.fail = StorageError("constraint violated", transient=False)
    writer = BatchingWriter(repo)  # type: ignore[arg-type]
    writer.start()
    writer.submit_nowait(order("O-1"))

    marker = await writer.mark()

    with pytest.raises(StorageError, match="constraint violated"):
        await marker
    with pytest.raises(StorageError):
        await writer.aclose()


def test_a_transaction_its_caller_abandoned_is_rolled_back_not_committed(tmp_path: Path) -> None:
    """Cancelled before COMMIT (e.g. the writer's timeout): the retry must not find it written."""
    db = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    abandoned = threading.Event()
    abandoned.set()

    with pytest.raises(_Abandoned):
        _write_all(db, [("INSERT INTO t (a, b) VALUES (?, ?)", [1, "x"], None)], abandoned)
    _write_all(db, [("INSERT INTO t (a, b) VALUES (?, ?)", [2, "y"], None)], threading.Event())
    rows = db.execute("SELECT a, b FROM t").fetchall()
    db.close()

    assert rows == [(2, "y")]


def test_a_batch_keeps_only_the_last_latest_only_mark_of_each_id() -> None:
    """Superseded progress marks in one transaction are dropped; other rows keep order."""
    from genesis.storage.repository import StrategyStateRecord
    from genesis.storage.writer import _without_superseded

    p1 = StrategyStateRecord("progress", 1, b"1", True)
    snap = StrategyStateRecord("sma", 1, b"s")  # a strategy snapshot: every one is kept
    p2 = StrategyStateRecord("progress", 2, b"2", True)
    q1 = StrategyStateRecord("other", 2, b"o", True)
    snap2 = StrategyStateRecord("sma", 3, b"t")
    p3 = StrategyStateRecord("progress", 3, b"3", True)
    assert _without_superseded([p1, snap, p2, q1, snap2, p3]) == [snap, q1, snap2, p3]
    assert _without_superseded([snap, p1, q1]) == [snap, p1, q1]
