"""Order bookkeeping of the Binance venue: venue answers -> Genesis order events (pure).

Three sources describe the same orders: REST order objects (placement,
query, cancel), ``executionReport`` events and ``myTrades`` rows. They race
(a TRADE can precede the REST ack; a FILLED can follow a CANCELED), repeat
(stream replays, backfills) and can be incomplete. The tracker makes them
agree:

* ``OrderAccepted`` is emitted once, before anything else about the order.
* A fill is emitted once per ``(symbol, trade id)`` whatever its source (P4),
  also after a terminal event (the cancel/fill race, §7); a fill that would
  exceed the order quantity is refused and logged (an overfill alarm, R6).
* One terminal event (canceled, expired, rejected) at most; FILLED is implied
  by the fills. A terminal report whose cumulative quantity (``z`` or
  ``executedQty``) is ahead of the fills delivered so far is held back until
  those fills arrive (from the stream, the answer or a ``myTrades`` fetch), so
  the kernel always sees fills before the end of the order: the cancel/fill
  race never needs a CANCELED -> FILLED edge, which the order table refuses.
* Nothing is emitted for an order after its terminal event except a fill with
  a new trade id (logged as an anomaly); a late NEW or ack is absorbed.

Orders not placed by this process (unknown client ids) produce nothing: they
are reported by ``snapshot`` for reconciliation, never adopted here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import structlog

from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from genesis.exchange.binance.parse import ExecutionReport, Malformed, strict_decimal

__all__ = ["OrderTracker", "Tracked"]

log = structlog.get_logger(__name__)

_MS: Final = 1_000_000
_ZERO: Final = Decimal(0)
_EXPIRED: Final = frozenset({"EXPIRED", "EXPIRED_IN_MATCH"})
_TERMINAL: Final = frozenset({"CANCELED", "REJECTED", "FILLED", *_EXPIRED})


@dataclass(slots=True)
class Tracked:
    """What the venue knows about one order it placed."""

    cmd: SubmitOrder
    venue_order_id: str = ""
    accepted: bool = False
    done: bool = False  # a terminal status has been seen
    filled: Decimal = _ZERO
    timestamp_ms: int = 0  # of the last signed placement request
    held_terminal: tuple[str, int | None, Decimal] | None = None  # status, ms, cumulative qty
    placing: bool = False  # the placement task runs: its outcome may still be unknown
    cancel_wanted: bool = False  # a cancel arrived while placing: the placement task honours it
    venue_cid: str = ""  # the venue's client id after a cancel-replace ("": ours)
    replaces: int = 0  # cancel-replaces sent (the n of the next replacement id)


class OrderTracker:
    """Orders placed by this process and the trade ids already delivered.

    Args:
        now_ns: local wall clock for ``ts_init``.
        venue: the venue name written into fills.
    """

    def __init__(self, now_ns: Callable[[], int], venue: str = "BINANCE") -> None:
        self._now_ns = now_ns
        self.venue = venue
        self.orders: dict[str, Tracked] = {}
        self._by_venue_id: dict[tuple[str, str], str] = {}
        self._trades: set[tuple[str, int]] = set()
        self.last_trade_id: dict[str, int] = {}
        self.overfills = 0
        self.late_fills = 0  # fills after the terminal event (venue anomaly; logged)
        self.absorbed = 0  # acks and NEWs after the terminal event (refused; logged)
        # cancel-replace (modify): the venue's client id of a replacement -> our order's,
        # and the venue orders it replaces, whose CANCELED is the replace, not the end
        self._aliases: dict[str, str] = {}
        self._retiring: set[tuple[str, str]] = set()

    def track(self, cmd: SubmitOrder) -> Tracked:
        tracked = self.orders[cmd.client_order_id] = Tracked(cmd)
        return tracked

    def open_symbols(self) -> list[str]:
        """Symbols with orders not yet terminal, sorted (deterministic order)."""
        return sorted({t.cmd.instrument_id for t in self.orders.values() if not t.done})

    def has_open(self) -> bool:
        return any(not t.done for t in self.orders.values())

    def client_id_of(self, symbol: str, order_id: str) -> str | None:
        return self._by_venue_id.get((symbol, order_id))

    def seen_trade(self, symbol: str, trade_id: int) -> bool:
        return (symbol, trade_id) in self._trades

    # --- event builders ---------------------------------------------------------------

    def rejected(self, tracked: Tracked, code: str, reason: str) -> list[OrderEvent]:
        if tracked.done:
            return []
        tracked.done = True
        return [OrderRejected(reason=reason, code=code, **self._ids(tracked, None))]

    def canceled(self, tracked: Tracked) -> list[OrderEvent]:
        """The end of an order proven never placed whose cancel was asked meanwhile."""
        return self._terminal(tracked, "CANCELED", None)

    def _ids(self, t: Tracked, venue_ms: int | None) -> dict[str, Any]:
        now = self._now_ns()
        return {
            "client_order_id": t.cmd.client_order_id,
            "strategy_id": t.cmd.strategy_id,
            "instrument_id": t.cmd.instrument_id,
            "ts_event": venue_ms * _MS if venue_ms else now,
            "ts_init": now,
        }

    def _bind(self, t: Tracked, order_id: str) -> None:
        if order_id and not t.venue_order_id:
            t.venue_order_id = order_id
            self._by_venue_id[(t.cmd.instrument_id, order_id)] = t.cmd.client_order_id

    def _accept(self, t: Tracked, order_id: str, venue_ms: int | None) -> list[OrderEvent]:
        self._bind(t, order_id)
        if t.accepted:
            return []
        t.accepted = True
        if t.done:  # the ack overtaken by the end of the order: nothing left to say
            self.absorbed += 1
            log.info("binance_late_ack_absorbed", client_order_id=t.cmd.client_order_id)
            return []
        return [OrderAccepted(venue_order_id=t.venue_order_id, **self._ids(t, venue_ms))]

    def _fill(
        self, t: Tracked, trade_id: int, qty: Decimal, px: Decimal, fee: Decimal,
        fee_ccy: str, maker: bool, venue_ms: int | None,
    ) -> list[OrderEvent]:  # fmt: skip
        symbol = t.cmd.instrument_id
        key = (symbol, trade_id)
        if key in self._trades:
            return []
        self._trades.add(key)
        self.last_trade_id[symbol] = max(self.last_trade_id.get(symbol, -1), trade_id)
        if t.filled + qty > t.cmd.quantity:
            self.overfills += 1
            log.error("binance_overfill_refused", client_order_id=t.cmd.client_order_id,
                      trade_id=trade_id, filled=t.filled, qty=qty)  # fmt: skip
            return []
        t.filled += qty
        if t.done:
            self.late_fills += 1
            log.warning("binance_fill_after_terminal", client_order_id=t.cmd.client_order_id,
                        trade_id=trade_id)  # fmt: skip
        events: list[OrderEvent] = [OrderFilled(
            venue=self.venue, trade_id=str(trade_id), side=t.cmd.side, last_qty=qty,
            last_px=px, fee=fee, fee_currency=fee_ccy,
            liquidity=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
            venue_order_id=t.venue_order_id, **self._ids(t, venue_ms),
        )]  # fmt: skip
        held = t.held_terminal
        if held is not None and t.filled >= held[2]:
            t.held_terminal = None
            events += self._terminal(t, held[0], held[1])
        return events

    def _end(self, t: Tracked, status: str, venue_ms: int | None, cum: Decimal) -> list[OrderEvent]:
        """The terminal event, or hold it while the venue reports fills we have not seen."""
        if t.done or status not in _TERMINAL:
            return []
        if cum > t.filled:
            t.held_terminal = (status, venue_ms, cum)
            log.info("binance_terminal_held_for_fills", client_order_id=t.cmd.client_order_id,
                     status=status, filled=t.filled, venue_filled=cum)  # fmt: skip
            return []
        return self._terminal(t, status, venue_ms)

    def _terminal(self, t: Tracked, status: str, venue_ms: int | None) -> list[OrderEvent]:
        if t.done or status not in _TERMINAL:
            return []
        t.done = True
        t.held_terminal = None
        ids = self._ids(t, venue_ms)
        if status == "CANCELED":
            return [OrderCanceled(**ids)]
        if status in _EXPIRED:
            return [OrderExpired(**ids)]
        if status == "REJECTED":
            return [OrderRejected(reason="REJECTED: the venue rejected the order", **ids)]
        return []  # FILLED: the fills say it

    # --- sources ---------------------------------------------------------------------

    def on_order_json(self, data: Mapping[str, Any], *, terminal: bool = True) -> list[OrderEvent]:
        """Events from a REST order object (placement FULL/RESULT, query, cancel response).

        With ``terminal`` False the terminal event is held back, so missing fills can be
        fetched and delivered first (``on_order_terminal``).

        Raises:
            Malformed: a missing or bad field.
        """
        t = self._lookup(data)
        if t is None:
            return []
        venue_ms = _opt_int(data, "transactTime") or _opt_int(data, "updateTime")
        status = str(data.get("status", ""))
        if status == "REJECTED":
            return self._terminal(t, status, venue_ms)
        events = self._accept(t, _order_id(data), venue_ms)
        for fill in data.get("fills") or ():
            if not isinstance(fill, dict):
                raise Malformed("fills entry is not an object")
            events += self._fill(
                t, _req_int(fill, "tradeId"), strict_decimal(fill.get("qty"), "qty", positive=True),
                strict_decimal(fill.get("price"), "price", positive=True),
                strict_decimal(fill.get("commission"), "commission"),
                str(fill.get("commissionAsset", "")), False, venue_ms,
            )  # fmt: skip  # a fill in the placement answer took liquidity
        if terminal:
            events += self._end(t, status, venue_ms, _executed(data))
        return events

    def on_order_terminal(self, data: Mapping[str, Any]) -> list[OrderEvent]:
        """The terminal event held back by ``on_order_json(terminal=False)``, if any."""
        t = self._lookup(data)
        venue_ms = _opt_int(data, "updateTime") or _opt_int(data, "transactTime")
        if t is None:
            return []
        return self._end(t, str(data.get("status", "")), venue_ms, _executed(data))

    def missing_qty(self, data: Mapping[str, Any]) -> Decimal:
        """``executedQty`` the venue reports beyond the fills already delivered."""
        t = self._lookup(data)
        if t is None or "executedQty" not in data:
            return _ZERO
        return strict_decimal(data["executedQty"], "executedQty") - t.filled

    def on_execution_report(self, rep: ExecutionReport) -> list[OrderEvent]:
        """Events from one ``executionReport`` (see the module rules)."""
        t = self.orders.get(self._aliases.get(rep.client_order_id, rep.client_order_id))
        if rep.exec_type == "CANCELED" and (rep.symbol, str(rep.order_id)) in self._retiring:
            return []  # the cancel half of our cancel-replace: the order lives on, replaced
        if t is None:
            log.info("binance_external_order_event", symbol=rep.symbol, order_id=rep.order_id)
            return []
        if rep.exec_type == "REJECTED":
            return self.rejected(t, "REJECTED", f"{rep.reject_reason}: rejected by the venue")
        ending = rep.exec_type in ("CANCELED", "EXPIRED", "TRADE_PREVENTION")
        if ending and not t.accepted and rep.cum_qty == 0:  # e.g. FOK: the end says it all
            self._bind(t, str(rep.order_id))
            return self._terminal(t, rep.status, rep.event_ms)
        events = self._accept(t, str(rep.order_id), rep.event_ms)
        if rep.exec_type == "TRADE" and rep.trade_id >= 0:
            events += self._fill(t, rep.trade_id, rep.last_qty, rep.last_px, rep.commission,
                                 rep.commission_asset, rep.is_maker, rep.event_ms)  # fmt: skip
        if rep.exec_type != "NEW":
            events += self._end(t, rep.status, rep.event_ms, rep.cum_qty)
        elif t.done:
            self.absorbed += 1
            log.info("binance_late_new_absorbed", client_order_id=t.cmd.client_order_id)
        return events

    def on_trade_row(self, row: Mapping[str, Any]) -> list[OrderEvent]:
        """Events from one ``myTrades`` row (backfill); rows of unknown orders only advance ids.

        Raises:
            Malformed: a missing or bad field.
        """
        symbol, trade_id = str(row.get("symbol", "")), _req_int(row, "id")
        self.last_trade_id[symbol] = max(self.last_trade_id.get(symbol, -1), trade_id)
        cid = self._by_venue_id.get((symbol, str(_req_int(row, "orderId"))))
        t = self.orders.get(cid) if cid is not None else None
        if t is None:
            return []
        return self._fill(
            t, trade_id, strict_decimal(row.get("qty"), "qty", positive=True),
            strict_decimal(row.get("price"), "price", positive=True),
            strict_decimal(row.get("commission"), "commission"),
            str(row.get("commissionAsset", "")), row.get("isMaker") is True,
            _opt_int(row, "time"),
        )  # fmt: skip

    def bind(self, client_order_id: str, symbol: str, order_id: int) -> bool:
        """Learn the venue id of a tracked order (from a query by ``orderId``); False if unknown."""
        t = self.orders.get(client_order_id)
        if t is None or t.cmd.instrument_id != symbol:
            return False
        self._bind(t, str(order_id))
        return True

    def foreign_fill(self, row: Mapping[str, Any], order: Mapping[str, Any]) -> list[OrderEvent]:
        """A fill of an order this process did not place (a start-up snapshot after a restart).

        ``order`` is the venue's order object (``GET /api/v3/order``); the owner strategy is
        unknown here (empty), the journal knows it by the client order id.

        Raises:
            Malformed: a missing or bad field.
        """
        symbol, trade_id = str(row.get("symbol", "")), _req_int(row, "id")
        key = (symbol, trade_id)
        cid = order.get("clientOrderId")
        if key in self._trades or not isinstance(cid, str):
            return []
        try:
            side = Side(order.get("side"))
        except ValueError:
            raise Malformed(f"order side {order.get('side')!r:.20}") from None
        self._trades.add(key)
        self.last_trade_id[symbol] = max(self.last_trade_id.get(symbol, -1), trade_id)
        now, venue_ms = self._now_ns(), _opt_int(row, "time")
        return [OrderFilled(
            venue=self.venue, trade_id=str(trade_id), side=side,
            last_qty=strict_decimal(row.get("qty"), "qty", positive=True),
            last_px=strict_decimal(row.get("price"), "price", positive=True),
            fee=strict_decimal(row.get("commission"), "commission"),
            fee_currency=str(row.get("commissionAsset", "")),
            liquidity=LiquiditySide.MAKER if row.get("isMaker") is True else LiquiditySide.TAKER,
            venue_order_id=str(_req_int(row, "orderId")), client_order_id=cid, strategy_id="",
            instrument_id=symbol, ts_event=venue_ms * _MS if venue_ms else now, ts_init=now,
        )]  # fmt: skip

    def _lookup(self, data: Mapping[str, Any]) -> Tracked | None:
        # In a cancel response ``clientOrderId`` is the cancel's own id (§6.6).
        cid = data.get("origClientOrderId") or data.get("clientOrderId")
        if not isinstance(cid, str):
            return None
        if (
            data.get("status") == "CANCELED"
            and (str(data.get("symbol", "")), _order_id(data)) in self._retiring
        ):
            return None  # a replaced venue order: its cancel is not the order's end
        return self.orders.get(self._aliases.get(cid, cid))

    # --- cancel-replace (modify) -----------------------------------------------------

    def expect_replacement(self, t: Tracked, venue_cid: str) -> None:
        """A cancelReplace is about to go: reports under ``venue_cid`` are ``t``'s, and the
        venue order it replaces ends as the replace's cancel, not as ``t``'s end."""
        self._aliases[venue_cid] = t.cmd.client_order_id
        if t.venue_order_id:
            self._retiring.add((t.cmd.instrument_id, t.venue_order_id))

    def retire(self, symbol: str, order_id: str) -> None:
        """The venue order ``order_id`` was replaced: its cancel is not an order's end."""
        self._retiring.add((symbol, order_id))

    def abandon_replacement(self, t: Tracked, venue_cid: str) -> None:
        """The cancelReplace did not cancel: the old venue order stays ``t``'s."""
        self._aliases.pop(venue_cid, None)
        self._retiring.discard((t.cmd.instrument_id, t.venue_order_id))

    def replaced(self, t: Tracked, venue_cid: str, after: SubmitOrder, order_id: str) -> None:
        """The replacement stands: ``t`` now has ``after``'s terms (our client id, total
        quantity) and is the venue order ``order_id`` (client id ``venue_cid``)."""
        t.cmd = after
        t.venue_cid = venue_cid
        if order_id:
            t.venue_order_id = order_id
            self._by_venue_id[(after.instrument_id, order_id)] = after.client_order_id

    def local_id(self, venue_cid: str) -> str:
        """Our client order id for a venue's (a replacement's maps to its order's)."""
        return self._aliases.get(venue_cid, venue_cid)


def _executed(data: Mapping[str, Any]) -> Decimal:
    if "executedQty" not in data:
        return _ZERO
    return strict_decimal(data["executedQty"], "executedQty")


def _order_id(data: Mapping[str, Any]) -> str:
    value = data.get("orderId")
    return str(value) if type(value) is int else ""


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if type(value) is int else None


def _req_int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if type(value) is not int:
        raise Malformed(f"field `{key}` {value!r:.40}; expected an integer")
    return value
