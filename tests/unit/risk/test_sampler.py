"""The event-time sampler: one sample per interval, bounded, aligned returns, and the
correlation the pre-trade check reads, against numpy on real quotes (Coinbase BTC-USD
1-minute quote bars of 2017-09-03/04, tests/data)."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from genesis.risk.sampler import EventSampler

D = Decimal
S = 1_000_000_000
T0 = 1_504_396_800 * S  # 2017-09-03 00:00 UTC, the recording's first minute
COINBASE = (
    Path(__file__).resolve().parents[2] / "data" / "coinbase-btcusd-1m-2017-09-03_04-quote.csv.gz"
)


def _rows() -> list[dict[str, str]]:
    with gzip.open(COINBASE, "rt", newline="") as f:
        return list(csv.DictReader(f))


def test_one_sample_per_interval_of_event_time() -> None:
    """Events 10 s apart over five minutes give five samples, at each minute's first event."""
    sampler = EventSampler(interval_s=60, max_samples=100)
    for n in range(30):
        now = T0 + n * 10 * S
        if sampler.due(now):
            sampler.take(now, D(1000), {"a": D(1)})

    assert list(sampler.times) == [T0 + m * 60 * S for m in range(5)]


def test_samples_are_bounded() -> None:
    """max_samples keeps the newest only."""
    sampler = EventSampler(interval_s=1, max_samples=10)
    for n in range(50):
        sampler.take(T0 + n * S, D(n + 1), {})

    assert len(sampler) == 10
    assert sampler.equity[0] == 41.0


def test_correlation_matches_numpy_on_real_quotes() -> None:
    """Bid and ask closes of the real recording, sampled each minute: the correlation of
    their returns is numpy's corrcoef, over every aligned pair."""
    rows = _rows()
    sampler = EventSampler(interval_s=60, max_samples=5000)
    for n, row in enumerate(rows):
        prices = {"cb:BID": D(row["bid_close"]), "cb:ASK": D(row["ask_close"])}
        sampler.take(T0 + n * 60 * S, D(1000), prices)
    bids = np.array([float(r["bid_close"]) for r in rows])
    asks = np.array([float(r["ask_close"]) for r in rows])
    expected = np.corrcoef(np.diff(bids) / bids[:-1], np.diff(asks) / asks[:-1])[0, 1]

    corr, n = sampler.correlation("cb:BID", "cb:ASK")

    assert n == len(rows) - 1
    assert corr == pytest.approx(expected, rel=1e-9)
    assert sampler.correlation("cb:ASK", "cb:BID") == (corr, n)  # one cached value per pair


def test_an_instrument_missing_from_a_sample_breaks_only_its_pairs() -> None:
    """Returns are paired only between consecutive samples that priced both."""
    sampler = EventSampler(interval_s=1, max_samples=10)
    for n, prices in enumerate([{"a": 1, "b": 1}, {"a": 2}, {"a": 4, "b": 2}, {"a": 2, "b": 4}]):
        sampler.take(T0 + n * S, D(1), {k: D(v) for k, v in prices.items()})

    assert sampler.paired_returns("a", "b") == ([-0.5], [1.0])
    assert sampler.returns_of("a") == [1.0, 1.0, -0.5]
