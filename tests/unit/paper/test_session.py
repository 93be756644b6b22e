"""A paper session's per-strategy series from its journal's ``strategy_trade`` rows.

The rows are built here as the journal writes them (the row's time is the close), with
small round P&L figures chosen to make the arithmetic checkable by hand (no price is
involved: ``tests/integration/test_paper_ab.py`` runs the real session).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from genesis.errors import ConfigError
from genesis.paper.session import session_returns
from genesis.storage.repository import AuditRecord

DAY = 86_400 * 1_000_000_000
T0 = 18_993 * DAY  # 2022-01-01 00:00 UTC


def _trade(sid: str, opened: int, closed: int, pnl: str) -> AuditRecord:
    detail = {"strategy_id": sid, "instrument": "BTCUSDT", "opened_ns": opened,
              "net_pnl": pnl, "fills": 2, "performance": {}}  # fmt: skip
    return AuditRecord(closed, "daemon", "strategy_trade", json.dumps(detail))


ROWS = [
    _trade("a", T0 + 60, T0 + 120, "-0.61"),
    _trade("b", T0 + DAY + 60, T0 + DAY + 90, "1.20"),
    _trade("a", T0 + DAY, T0 + 2 * DAY + 5, "0.40"),
    AuditRecord(T0 + 3 * DAY + 7, "daemon", "shutdown_orders", "{}"),  # the session's end
]


def test_trades_are_each_net_pnl_in_close_order() -> None:
    assert session_returns(ROWS, ["a", "b"], "trades", None) == [[-0.61, 0.4], [1.2]]


def test_daily_returns_cover_the_same_days_for_every_strategy() -> None:
    """Days 0..3 for both (from a's first open to the last row): wealth 100 -> 99.39 ->
    99.39 -> 99.79 -> 99.79 for a; b gains 1.20 on day 1."""
    a, b = session_returns(ROWS, ["a", "b"], "daily", Decimal(100))
    assert a == pytest.approx([-0.0061, 0.0, 0.40 / 99.39, 0.0], rel=1e-12)
    assert b == pytest.approx([0.0, 0.012, 0.0, 0.0], rel=1e-12)


def test_a_strategy_without_trades_is_named_with_those_that_have_some() -> None:
    with pytest.raises(ConfigError, match=r"no completed trade of c in the journal; strategies"
                       r" with trades: a, b"):  # fmt: skip
        session_returns(ROWS, ["a", "c"], "trades", None)


def test_daily_needs_a_capital() -> None:
    with pytest.raises(ConfigError, match=r"--capital \(> 0\)"):
        session_returns(ROWS, ["a", "b"], "daily", None)
