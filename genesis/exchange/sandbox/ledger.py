"""The ground-truth ledger (reliability plan "How to measure"): what the exchange accepted.

Orders are kept by ``clientOrderId`` (a list: a closed order's id may be
reused), with the number of accepting ``POST /order`` requests per client id;
every trade id; and the account's balances. ``export`` is plain JSON.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from genesis.exchange.sandbox.orders import BinanceOrder
from genesis.exchange.sandbox.symbols import fmt

__all__ = ["Ledger"]


class Ledger:
    def __init__(self) -> None:
        self.orders: dict[str, list[BinanceOrder]] = {}
        self.accepted_posts: Counter[str] = Counter()
        self.trades: list[dict[str, Any]] = []

    def order_accepted(self, order: BinanceOrder, *, via_post: bool) -> None:
        self.orders.setdefault(order.client_order_id, []).append(order)
        if via_post:
            self.accepted_posts[order.client_order_id] += 1

    def trade(self, record: dict[str, Any]) -> None:
        self.trades.append(record)

    def export(self, balances: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Any]:
        """JSON-ready ground truth; decimals are strings."""
        return {
            "orders": {
                cid: [{**o.query(), "external": o.external} for o in orders]
                for cid, orders in self.orders.items()
            },
            "accepted_posts": dict(self.accepted_posts),
            "trades": [dict(t) for t in self.trades],
            "balances": {a: {"free": fmt(f), "locked": fmt(lk)} for a, (f, lk) in balances.items()},
        }
