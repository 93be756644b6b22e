"""A paper session's per-strategy return series, from its journal, for ``genesis ab compare``.

Several parameter sets of one strategy run in one paper daemon as separate
instances (one strategy file each: distinct ids, own positions and P&L, one
market stream). The journal keeps each completed round trip as a
``strategy_trade`` audit row (strategy id, ``opened_ns``, net P&L, the row's
time is the close). From those rows:

* ``trades``: each trade's net P&L, in the order the session closed them;
* ``daily``: as the promotion evidence counts them (``genesis.paper.promotion``):
  wealth = ``capital`` + cumulative net P&L at each UTC day's end, a day without
  a closed trade returns 0; every compared strategy is measured over the same
  days: from the first day any of them opened a trade to the day of the
  journal's last audit row (the session's end as far as the journal knows).

Pure: the rows come in, floats go out (analytics; the P&L sums are Decimal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

from genesis.errors import ConfigError
from genesis.paper.promotion import NS_PER_DAY, AuditRow

__all__ = ["TRADE", "session_returns"]

TRADE = "strategy_trade"  # genesis.daemon.control.TRADE (the paper package stays below daemon)


def session_returns(
    rows: Iterable[AuditRow], strategy_ids: Sequence[str], kind: str, capital: Decimal | None
) -> list[list[float]]:
    """One series per strategy id, in the order asked.

    Raises:
        ConfigError: a strategy with no completed trade in the journal (the ones with
            trades are named), or ``daily`` without a ``capital`` > 0.
    """
    rows = list(rows)
    trades: dict[str, list[tuple[int, int, Decimal]]] = {}
    for row in rows:
        if row.action == TRADE:
            detail = json.loads(row.detail_json)
            closed = (row.ts_ns, int(detail["opened_ns"]), Decimal(detail["net_pnl"]))
            trades.setdefault(detail["strategy_id"], []).append(closed)
    missing = [sid for sid in strategy_ids if sid not in trades]
    if missing:
        raise ConfigError(
            f"no completed trade of {', '.join(missing)} in the journal; strategies with"
            f" trades: {', '.join(sorted(trades)) or 'none'}"
        )
    if kind == "trades":
        return [[float(pnl) for _, _, pnl in trades[sid]] for sid in strategy_ids]
    if capital is None or capital <= 0:
        raise ConfigError("--capital (> 0) turns a session's daily P&L into daily returns")
    first = min(opened for sid in strategy_ids for _, opened, _ in trades[sid]) // NS_PER_DAY
    last = max(row.ts_ns for row in rows) // NS_PER_DAY
    return [_daily(trades[sid], capital, first, last) for sid in strategy_ids]


def _daily(
    trades: list[tuple[int, int, Decimal]], capital: Decimal, first: int, last: int
) -> list[float]:
    by_day: dict[int, Decimal] = {}
    for closed, _, pnl in trades:
        by_day[closed // NS_PER_DAY] = by_day.get(closed // NS_PER_DAY, Decimal(0)) + pnl
    wealth, returns = capital, []
    for day in range(first, last + 1):
        before = wealth
        wealth += by_day.get(day, Decimal(0))
        returns.append(float(wealth / before - 1) if before > 0 else -1.0)
    return returns
