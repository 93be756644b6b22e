"""The chain's pure parts: canonical text, linking and the verifier's verdicts."""

from __future__ import annotations

import hashlib

from genesis.storage.chain import GENESIS, Verifier, canonical, link_rows, row_hash


def test_canonical_length_prefixes_every_field() -> None:
    """Fields that concatenate alike still differ: ("ab", "c") vs ("a", "bc")."""
    assert canonical("audit_log", [1, "ab", "c"]) == "audit_log|1:1|2:ab|1:c"
    assert canonical("audit_log", ["ab", "c"]) != canonical("audit_log", ["a", "bc"])


def test_first_row_links_to_genesis_with_sha256() -> None:
    """The first row's hash is sha256 of 64 zeros followed by its canonical text."""
    (row,), head = link_rows(None, "audit_log", [(5, "api", "kill", "{}")])

    expected = hashlib.sha256(f"{GENESIS}audit_log|1:5|3:api|4:kill|2:{{}}".encode()).hexdigest()
    assert row == (5, "api", "kill", "{}", GENESIS, expected)
    assert head == expected == row_hash(GENESIS, "audit_log", (5, "api", "kill", "{}"))


def test_verifier_counts_leading_legacy_rows_and_accepts_the_chain_after_them() -> None:
    """Two unhashed rows, then a chain from GENESIS: intact, two legacy rows."""
    linked, head = link_rows(None, "audit_log", [(3, "a", "b", "{}"), (4, "a", "c", "{}")])
    rows = [(1, 1, "a", "x", "{}", None, None), (2, 2, "a", "y", "{}", None, None)]
    rows += [(n + 3, *r) for n, r in enumerate(linked)]
    verifier = Verifier("audit_log")

    verifier.feed(rows[:3])
    verifier.feed(rows[3:])
    status = verifier.status()

    assert (status.ok, status.rows, status.legacy, status.head) == (True, 4, 2, head)
    assert status.describe() == f"audit_log: intact, 4 rows (2 before the chain), head {head[:16]}"


def test_verifier_names_the_first_swapped_row() -> None:
    """Two rows swapped: the first out of place (id 1, holding row 2) is the break."""
    linked, _ = link_rows(None, "audit_log", [(3, "a", "b", "{}"), (4, "a", "c", "{}")])
    verifier = Verifier("audit_log")

    verifier.feed([(1, *linked[1]), (2, *linked[0])])

    assert verifier.status().broken_id == 1
    assert verifier.status().describe() == (
        "audit_log: BROKEN at id 1: prev_hash does not match the row before it"
        " (a row deleted, inserted or moved)"
    )
