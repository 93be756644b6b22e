"""The hash chain that makes the journal's decision rows tamper-evident (SPEC RK-6).

Two append-only tables hold every decision: ``order_events`` (each order's
intent with its whole command, the risk verdict ``OrderDenied`` with its code,
venue acceptances, rejections, cancels and every ``OrderFilled``) and
``audit_log`` (kill switch, config changes, breakers, operator requests...).
Each row of either stores ``prev_hash``, the ``row_hash`` of the row before it in
the same table (by ``id``), and its own

    row_hash = sha256(prev_hash + canonical(table, fields)).hexdigest()

where ``canonical`` is the table name and each field length-prefixed
(``7:daemon``), so no two different rows share a text. The first row links to
``GENESIS`` (64 zeros). Rows are linked inside the transaction that inserts
them, after reading the table's head in that same transaction (SQLite's
``BEGIN IMMEDIATE`` and a PostgreSQL advisory lock serialise writers), so
several processes appending never fork the chain, and a batch links exactly
as writing its rows one by one would.

``verify_rows`` walks a table in ``id`` order and reports the first row whose
``prev_hash`` is not the previous row's hash (a row deleted, inserted or moved)
or whose ``row_hash`` does not match its content (a row edited). Rows written
before the chain existed (both hashes NULL, at the start) are counted as
``legacy`` and not judged. What the chain cannot show: rows cut off the end
(compare ``head`` with a copy kept elsewhere, as the compliance report prints
it) and a rewrite of every hash after an edit by someone who can run this code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CHAINED",
    "GENESIS",
    "ChainStatus",
    "Verifier",
    "canonical",
    "link_rows",
    "row_hash",
]

GENESIS: Final = "0" * 64
# chained table -> its content columns, in the order they are hashed
CHAINED: Final[dict[str, tuple[str, ...]]] = {
    "order_events": ("client_order_id", "ts_ns", "kind", "detail_json"),
    "audit_log": ("ts_ns", "actor", "action", "detail_json"),
}


def canonical(table: str, fields: Iterable[object]) -> str:
    """The table and each field as ``<length>:<text>``: unambiguous, cheap to build."""
    parts = [table]
    for value in fields:
        text = str(value)
        parts.append(f"{len(text)}:{text}")
    return "|".join(parts)


def row_hash(prev: str, table: str, fields: Iterable[object]) -> str:
    """SHA-256 (hex) of the previous row's hash followed by this row's canonical text."""
    return hashlib.sha256((prev + canonical(table, fields)).encode()).hexdigest()


def link_rows(
    head: str | None, table: str, rows: Sequence[Sequence[object]]
) -> tuple[list[tuple[object, ...]], str]:
    """Each row with ``prev_hash`` and ``row_hash`` appended, chained from ``head`` (the
    table's last ``row_hash``; None or NULL: ``GENESIS``).

    Returns:
        The linked rows, in order, and the new head.
    """
    prev = head or GENESIS
    linked: list[tuple[object, ...]] = []
    for row in rows:
        digest = row_hash(prev, table, row)
        linked.append((*row, prev, digest))
        prev = digest
    return linked, prev


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The verdict on one table's chain.

    Attributes:
        table: the table.
        rows: rows read.
        legacy: rows from before the chain (no hashes), at the start: not judged.
        broken_id: ``id`` of the first row that does not verify, None when intact.
        reason: why that row does not verify ("" when intact).
        head: the last verified ``row_hash`` (``GENESIS`` for an empty chain).
    """

    table: str
    rows: int
    legacy: int
    broken_id: int | None
    reason: str
    head: str

    @property
    def ok(self) -> bool:
        return self.broken_id is None

    def describe(self) -> str:
        """One line for logs, the CLI and reports."""
        if self.ok:
            return (
                f"{self.table}: intact, {self.rows} rows ({self.legacy} before the chain),"
                f" head {self.head[:16]}"
            )
        return f"{self.table}: BROKEN at id {self.broken_id}: {self.reason}"

    def as_fields(self) -> dict[str, object]:
        """For JSON (``/health``, the report)."""
        return {
            "table": self.table, "ok": self.ok, "rows": self.rows, "legacy": self.legacy,
            "broken_id": self.broken_id, "reason": self.reason, "head": self.head,
        }  # fmt: skip


class Verifier:
    """Walks one table's rows ``(id, *content, prev_hash, row_hash)`` in ``id`` order, page
    by page (``feed``); ``status()`` is the verdict so far. Stops judging at the first break."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._prev = GENESIS
        self._rows = 0
        self._legacy = 0
        self._chained = False
        self._broken: tuple[int, str] | None = None

    def feed(self, rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            self._rows += 1
            if self._broken is None:
                self._check(row)

    def _check(self, row: Sequence[object]) -> None:
        row_id, fields = int(str(row[0])), row[1:-2]
        prev, digest = row[-2], row[-1]
        if prev is None and digest is None and not self._chained:
            self._legacy += 1
            return
        self._chained = True
        if prev != self._prev:
            self._broken = (row_id, f"prev_hash does not match the row before it ({_why(prev)})")
        elif digest != row_hash(self._prev, self.table, fields):
            self._broken = (row_id, "row_hash does not match the row's content (edited)")
        else:
            self._prev = str(digest)

    def status(self) -> ChainStatus:
        broken_id, reason = self._broken if self._broken is not None else (None, "")
        return ChainStatus(self.table, self._rows, self._legacy, broken_id, reason, self._prev)


def _why(prev: object) -> str:
    if prev is None:
        return "no hash: written outside the chain"
    return "a row deleted, inserted or moved"
