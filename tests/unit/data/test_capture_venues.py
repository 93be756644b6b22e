"""Bybit and Gemini L2 recordings replay through BookSync with zero false gaps."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.events import BookDelta, TradeTick
from genesis.data.book import BookSync, SyncOutcome
from genesis.data.capture_venues import read_bybit_orderbook, read_gemini_l2
from genesis.errors import DataError

DATA = Path(__file__).resolve().parents[2] / "data"
BYBIT = DATA / "bybit-xrpusdt-ob500-2024-12-01.jsonl.gz"
GEMINI = DATA / "gemini-l2-btcusd-ethusd-ethbtc-2021-04-17.txt.gz"


def _replay(events: list[object]) -> dict[str, BookSync]:
    syncs: dict[str, BookSync] = {}
    for event in events:
        if isinstance(event, TradeTick):
            continue
        sync = syncs.setdefault(event.instrument_id, BookSync(event.instrument_id))  # type: ignore[attr-defined]
        sync.apply(event)  # type: ignore[arg-type]
    return syncs


def test_bybit_orderbook_replays_without_gaps() -> None:
    """One snapshot and 49 deltas with contiguous update ids: all applied, none a gap."""
    sync = _replay(list(read_bybit_orderbook(BYBIT)))["XRPUSDT"]
    stats = sync.statistics()
    assert (stats.applied, stats.gaps, stats.valid, stats.last_update_id) == (49, 0, True, 20254918)
    assert sync.book.best_bid() == (Decimal("1.9537"), Decimal("10605"))
    assert sync.book.best_ask() == (Decimal("1.9538"), Decimal("6702"))


def test_bybit_lost_delta_is_a_gap() -> None:
    """Dropping any one delta breaks the id chain and is reported."""
    events = list(read_bybit_orderbook(BYBIT))
    for lost in range(1, len(events) - 1):
        sync = BookSync("XRPUSDT")
        outcomes = [sync.apply(e) for i, e in enumerate(events) if i != lost]
        assert SyncOutcome.GAP in outcomes, lost


def test_gemini_triangle_books_replay() -> None:
    """The BTCUSD/ETHUSD/ETHBTC books build from the real recording, with real touches."""
    syncs = _replay(list(read_gemini_l2(GEMINI)))
    assert len(syncs) == 10
    assert all(s.statistics().gaps == 0 and s.valid for s in syncs.values())
    assert syncs["BTCUSD"].book.best_bid() == (Decimal("60707.59"), Decimal("0.02"))
    assert syncs["ETHUSD"].book.best_ask() == (Decimal("2370.22"), Decimal("0.25"))
    assert syncs["ETHBTC"].book.best_bid() == (Decimal("0.039"), Decimal("4.469868"))
    assert not any(s.book.is_crossed() for s in syncs.values())


def test_gemini_trades_are_ticks_with_taker_side() -> None:
    """Trade messages become TradeTicks keyed by Gemini's event id."""
    trades = [e for e in read_gemini_l2(GEMINI) if isinstance(e, TradeTick)]
    assert len(trades) == 51
    assert all(t.price > 0 and t.size > 0 and t.aggressor_side is not None for t in trades)


def test_malformed_bybit_line_names_file_and_line(tmp_path: Path) -> None:
    """A delta without its update id is refused with file:line."""
    bad = tmp_path / "bybit.jsonl"
    bad.write_text(
        '{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1,"data":{"s":"XRPUSDT","b":[],"a":[]}}\n'
    )
    with pytest.raises(DataError, match=r"bybit.jsonl:1: .*u"):
        list(read_bybit_orderbook(bad))


def test_gemini_updates_are_numbered_per_symbol() -> None:
    """Gemini v2 has no sequence numbers: each symbol's updates are numbered 2, 3, ... after its snapshot."""
    deltas = [
        e
        for e in read_gemini_l2(GEMINI)
        if isinstance(e, BookDelta) and e.instrument_id == "BTCUSD"
    ]
    assert [d.first_update_id for d in deltas[:3]] == [2, 3, 4]
