"""The sandbox account: balance, trades, positions and the transaction log (sans-I/O).

OANDA's model: a fill first reduces the open trades of the opposite side,
oldest first (``positionFill`` DEFAULT), and what is left opens a new trade
whose id is the fill transaction's id. Closing a trade (``tradeClose``) reduces
only that trade. Realized P/L is ``units x (close - open)`` in the quote
currency, which is the home currency (USD) for the one instrument served, so
no conversion is applied. Amounts are quantized to 4 decimals (OANDA's
account precision for USD). No financing, commission or dividends are charged.

Every state change is a transaction: a dict in OANDA's JSON shape with a
sequential string id, appended to ``transactions`` and given to ``publish``
(the transaction stream).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["ACCOUNT_ID", "Account", "Trade", "rfc3339"]

ACCOUNT_ID = "101-004-1234567-001"
USER_ID = 1234567
_CENTS = Decimal("0.0001")
ZERO = Decimal(0)
Tx = dict[str, Any]


def rfc3339(ts_ns: int) -> str:
    """``ts_ns`` as OANDA's RFC3339 time with nanoseconds (UTC)."""
    import datetime as _dt

    secs, nanos = divmod(ts_ns, 1_000_000_000)
    stamp = _dt.datetime.fromtimestamp(secs, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def money(value: Decimal) -> str:
    return str(value.quantize(_CENTS))


@dataclass(slots=True)
class Trade:
    """One trade: units signed (+ long, - short); ``current_units`` 0 once closed."""

    id: str
    instrument: str
    price: Decimal
    open_ns: int
    initial_units: Decimal
    current_units: Decimal
    client_extensions: dict[str, str] | None = None
    realized_pl: Decimal = ZERO
    closing_ids: list[str] = field(default_factory=list)
    close_ns: int | None = None
    close_value: Decimal = ZERO  # sum of closed units x close price (the average close)
    orders: dict[str, str] = field(default_factory=dict)  # TAKE_PROFIT etc. -> order id

    @property
    def is_open(self) -> bool:
        return self.current_units != 0

    def to_json(self, unrealized: Decimal, margin_rate: Decimal, precision: int) -> Tx:
        out: Tx = {
            "id": self.id,
            "instrument": self.instrument,
            "price": f"{self.price:.{precision}f}",
            "openTime": rfc3339(self.open_ns),
            "state": "OPEN" if self.is_open else "CLOSED",
            "initialUnits": str(self.initial_units),
            "initialMarginRequired": money(abs(self.initial_units) * self.price * margin_rate),
            "currentUnits": str(self.current_units),
            "realizedPL": money(self.realized_pl),
            "unrealizedPL": money(unrealized),
            "marginUsed": money(abs(self.current_units) * self.price * margin_rate),
            "financing": "0.0000",
            "dividendAdjustment": "0.0000",
        }
        closed = abs(self.initial_units) - abs(self.current_units)
        if closed:
            out["averageClosePrice"] = f"{self.close_value / closed:.{precision}f}"
            out["closingTransactionIDs"] = list(self.closing_ids)
        if self.close_ns is not None:
            out["closeTime"] = rfc3339(self.close_ns)
        if self.client_extensions:
            out["clientExtensions"] = dict(self.client_extensions)
        for kind, key in (
            ("TAKE_PROFIT", "takeProfitOrderID"),
            ("STOP_LOSS", "stopLossOrderID"),
            ("TRAILING_STOP_LOSS", "trailingStopLossOrderID"),
        ):
            if kind in self.orders:
                out[key] = self.orders[kind]
        return out


class Account:
    """Balance, trades and the transaction log; ``fill`` applies one execution."""

    def __init__(self, balance: Decimal, publish: Callable[[Tx], None], currency: str = "USD"):
        self.id = ACCOUNT_ID
        self.currency = currency
        self.balance = balance.quantize(_CENTS)
        self.realized_pl = ZERO
        self.trades: dict[str, Trade] = {}
        self.transactions: list[Tx] = []
        self._publish = publish
        self._batch = "0"
        self.created_ns = 0

    @property
    def last_id(self) -> str:
        return str(len(self.transactions))

    def begin_batch(self) -> None:
        """Transactions recorded next share one ``batchID``: the first one's id."""
        self._batch = str(len(self.transactions) + 1)

    def record(self, kind: str, ts_ns: int, **fields: Any) -> Tx:
        """Append a transaction of type ``kind`` and publish it; returns it.

        An order's own ``type`` field (MARKET...) is not copied: the transaction's
        type (MARKET_ORDER...) names it, as in OANDA's transaction shapes.
        """
        fields.pop("type", None)
        tx_id = str(len(self.transactions) + 1)
        tx: Tx = {
            "id": tx_id,
            "time": rfc3339(ts_ns),
            "userID": USER_ID,
            "accountID": self.id,
            "batchID": self._batch if int(self._batch) > 0 else tx_id,
            "requestID": f"2{tx_id.zfill(17)}",
            "type": kind,
            **fields,
        }
        self.transactions.append(tx)
        self._publish(tx)
        return tx

    def open_trades(self, instrument: str | None = None) -> list[Trade]:
        return [
            t
            for t in self.trades.values()
            if t.is_open and (instrument is None or t.instrument == instrument)
        ]

    def position_units(self, instrument: str) -> tuple[Decimal, Decimal]:
        """(long units, short units) open on ``instrument`` (short as a negative number)."""
        long = sum(
            (t.current_units for t in self.open_trades(instrument) if t.current_units > 0), ZERO
        )
        short = sum(
            (t.current_units for t in self.open_trades(instrument) if t.current_units < 0), ZERO
        )
        return long, short

    def fill(
        self,
        *,
        instrument: str,
        units: Decimal,
        price: Decimal,
        ts_ns: int,
        order_id: str,
        reason: str,
        bid: Decimal,
        ask: Decimal,
        precision: int,
        margin_rate: Decimal,
        only_trade: str | None = None,
        side_only: int = 0,
        client_order_id: str | None = None,
        trade_client_extensions: dict[str, str] | None = None,
    ) -> tuple[Tx, Trade | None, list[Trade]]:
        """Apply a fill of ``units`` (signed) at ``price``; returns (ORDER_FILL, opened, closed).

        ``only_trade`` reduces just that trade (a trade close); ``side_only`` (+1/-1)
        reduces only the long/short side (a position closeout); otherwise the opposite
        trades are reduced oldest first and the rest opens a trade.
        """
        remaining = units
        closed: list[Trade] = []
        trades_closed: list[Tx] = []
        reduced: Tx | None = None
        pl_total = ZERO
        tx_id = str(len(self.transactions) + 1)
        for trade in self._reducible(instrument, units, only_trade, side_only):
            if remaining == 0:
                break
            take = min(abs(remaining), abs(trade.current_units))
            signed = take if trade.current_units > 0 else -take
            pl = (signed * (price - trade.price)).quantize(_CENTS)
            trade.current_units -= signed
            trade.realized_pl += pl
            trade.close_value += take * price
            trade.closing_ids.append(tx_id)
            remaining += signed
            pl_total += pl
            entry = {
                "tradeID": trade.id,
                "units": str(-signed),
                "price": f"{price:.{precision}f}",
                "realizedPL": money(pl),
                "financing": "0.0000",
                "halfSpreadCost": money(take * (ask - bid) / 2),
            }
            if trade.is_open:
                reduced = entry
            else:
                trade.close_ns = ts_ns
                closed.append(trade)
                trades_closed.append(entry)
        if only_trade is not None or side_only:
            remaining = ZERO  # a close never opens a trade
        self.balance += pl_total
        self.realized_pl += pl_total
        fields: Tx = {
            "orderID": order_id,
            "instrument": instrument,
            "units": str(units),
            "price": f"{price:.{precision}f}",
            "fullVWAP": f"{price:.{precision}f}",
            "fullPrice": {
                "type": "PRICE",
                "bids": [{"price": f"{bid:.{precision}f}", "liquidity": "10000000"}],
                "asks": [{"price": f"{ask:.{precision}f}", "liquidity": "10000000"}],
                "closeoutBid": f"{bid:.{precision}f}",
                "closeoutAsk": f"{ask:.{precision}f}",
            },
            "reason": reason,
            "pl": money(pl_total),
            "quotePL": money(pl_total),
            "financing": "0.0000",
            "commission": "0.0000",
            "guaranteedExecutionFee": "0.0000",
            "accountBalance": money(self.balance),
            "halfSpreadCost": money(abs(units) * (ask - bid) / 2),
        }
        if client_order_id is not None:
            fields["clientOrderID"] = client_order_id
        if trades_closed:
            fields["tradesClosed"] = trades_closed
        if reduced is not None:
            fields["tradeReduced"] = reduced
        opened: Trade | None = None
        if remaining != 0:
            opened = Trade(tx_id, instrument, price, ts_ns, remaining, remaining)
            opened.client_extensions = trade_client_extensions
            self.trades[tx_id] = opened
            fields["tradeOpened"] = {
                "tradeID": tx_id,
                "units": str(remaining),
                "price": f"{price:.{precision}f}",
                "guaranteedExecutionFee": "0.0000",
                "halfSpreadCost": money(abs(remaining) * (ask - bid) / 2),
                "initialMarginRequired": money(abs(remaining) * price * margin_rate),
            }
            if trade_client_extensions:
                fields["tradeOpened"]["clientExtensions"] = dict(trade_client_extensions)
        tx = self.record("ORDER_FILL", ts_ns, **fields)
        return tx, opened, closed

    def _reducible(
        self, instrument: str, units: Decimal, only_trade: str | None, side_only: int
    ) -> list[Trade]:
        if only_trade is not None:
            trade = self.trades.get(only_trade)
            return [trade] if trade is not None and trade.is_open else []
        if side_only:
            return [t for t in self.open_trades(instrument) if t.current_units * side_only > 0]
        return [t for t in self.open_trades(instrument) if t.current_units * units < 0]
