"""The FX ledger: P&L converted into the account currency at real USDJPY rates.

Quotes are real TrueFX USDJPY quotes of 2013-01-01 (tests/data/usdjpy-quotes-2013-01.csv.gz):
the first (22:00:00.295, 86.655/86.728), the 500th (22:21:13.607, 86.771/86.788) and the
1,000th (22:35:13.494, 86.836/86.854).
"""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.enums import Side
from genesis.core.fx import fx_pair
from genesis.errors import ConfigError
from genesis.portfolio.fxledger import FxLedger

D = Decimal
QUOTES = Path(__file__).resolve().parents[2] / "data" / "usdjpy-quotes-2013-01.csv.gz"
T0 = 1_357_077_600_295_000_000


def _quote(row: int) -> tuple[Decimal, Decimal]:
    with gzip.open(QUOTES, "rt", encoding="ascii") as fh:
        line = fh.readlines()[row].strip().split(",")
    return D(line[1]), D(line[2])


FIRST, MIDDLE, LAST = _quote(1), _quote(500), _quote(1000)


def test_the_quotes_are_the_ones_the_docstring_names() -> None:
    expected = (
        (D("86.655"), D("86.728")), (D("86.771"), D("86.788")), (D("86.836"), D("86.854")),
    )  # fmt: skip
    quotes = (FIRST, MIDDLE, LAST)
    assert quotes == expected


def test_realized_jpy_pnl_is_converted_to_usd_at_the_closing_rate() -> None:
    """Buy 10,000 at the ask 86.728, sell at the bid 86.836: 1,080 JPY, / 86.836 = 12.4372 USD."""
    ledger = FxLedger(fx_pair("USDJPY"), "USDJPY", "USD", D(10_000))
    ledger.fill(T0, Side.BUY, D(10_000), FIRST[1])
    closed = ledger.fill(T0 + 1, Side.SELL, D(10_000), LAST[0])
    assert closed[0].gross_pnl == D("1080.000")  # the lot's P&L stays in JPY
    assert (ledger.realized, ledger.balance) == (D("12.4372"), D("10012.4372"))


def test_unrealized_is_converted_at_the_mid() -> None:
    """Long 10,000 from 86.728, mid 86.7795: 515 JPY open, / 86.7795 = 5.9346 USD."""
    ledger = FxLedger(fx_pair("USDJPY"), "USDJPY", "USD", D(10_000))
    ledger.fill(T0, Side.BUY, D(10_000), FIRST[1])
    mid = sum(MIDDLE) / 2
    assert ledger.unrealized(mid) == D("5.9346")
    assert ledger.nav(mid) == ledger.balance + ledger.unrealized(mid) == D("10005.9346")


def test_a_short_loses_in_usd_when_usdjpy_rises() -> None:
    """Sell 10,000 at the bid 86.655, buy back at the ask 86.854: -1,990 JPY = -22.9120 USD."""
    ledger = FxLedger(fx_pair("USDJPY"), "USDJPY", "USD", D(10_000))
    ledger.fill(T0, Side.SELL, D(10_000), FIRST[0])
    ledger.fill(T0 + 1, Side.BUY, D(10_000), LAST[1])
    assert ledger.realized == (D(-1990) / LAST[1]).quantize(D("0.0001")) == D("-22.9120")


def test_a_jpy_account_needs_no_conversion() -> None:
    ledger = FxLedger(fx_pair("USDJPY"), "USDJPY", "JPY", D(1_000_000))
    ledger.fill(T0, Side.BUY, D(10_000), FIRST[1])
    ledger.fill(T0 + 1, Side.SELL, D(10_000), LAST[0])
    assert ledger.balance == D("1001080.000")


def test_financing_goes_to_the_balance_and_the_journal() -> None:
    ledger = FxLedger(fx_pair("USDJPY"), "USDJPY", "USD", D(10_000))
    wednesday = 1_357_164_000_000_000_000  # 2013-01-02 22:00 UTC, 17:00 New York
    assert ledger.rollover(wednesday, sum(LAST) / 2) is None  # flat: nothing
    ledger.fill(T0, Side.BUY, D(10_000), FIRST[1])
    entry = ledger.rollover(wednesday, sum(LAST) / 2)
    assert entry is not None
    assert entry.amount == D("-2.0548")  # 10,000 x -2.5 % x 3 / 365
    assert (ledger.financing, ledger.balance, ledger.entries) == (
        D("-2.0548"), D("9997.9452"), [entry],
    )  # fmt: skip


def test_an_account_in_a_third_currency_is_refused() -> None:
    with pytest.raises(ConfigError, match="account currency EUR"):
        FxLedger(fx_pair("USDJPY"), "USDJPY", "EUR", D(10_000))
