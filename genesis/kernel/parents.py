"""Parent orders inside the kernel: opened and closed by execution algorithms, analysed.

``ParentDesk`` is the kernel's side of ``ctx.start_parent`` / ``ctx.finish_parent``
(SPEC ST-X6, EX-3): it stamps the arrival price and a pre-trade cost estimate
from the market view, attributes child fills (by correlation id) to the open parents
(``execution.tca.TcaBook``; the kernel hands market prints to ``book.on_trade``
directly, on its trade path), and at the finish hands
the ``TcaRecord`` to the session's sink (a backtest's ``tca.csv``) and to the
kernel's notices (``ParentOrderDone``: the daemon logs and journals it). Parents
still open when the session stops are finished with the reason "session ended".
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from genesis.analytics.liquidity import expected_slippage_bps
from genesis.core.enums import Side
from genesis.core.events import Event, OrderFilled, ParentOrderDone
from genesis.core.instruments import Instrument
from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.execution.tca import TcaBook, TcaRecord
from genesis.kernel.market import MarketView

__all__ = ["ParentDesk"]

_NS = 1_000_000_000
_BPS: Final = Decimal(10_000)


class ParentDesk:
    """Open parents, their children's fills and the market's prints; TCA at the finish."""

    def __init__(
        self,
        *,
        market: MarketView,
        instruments: Callable[[str], Instrument],
        fee_rate: Decimal,
        notify: Callable[[Event], None],
        sink: Callable[[TcaRecord], None] | None = None,
    ) -> None:
        self.book = TcaBook()
        self._market = market
        self._instruments = instruments
        self._fee_bps = float(fee_rate * _BPS)
        self._notify = notify
        self._sink = sink

    def start(
        self,
        strategy_id: str,
        instrument_id: str,
        side: Side,
        quantity: Decimal,
        *,
        algo: str,
        horizon_s: float,
        now_ns: int,
    ) -> str:
        """Open a parent order; its id (children carry it as their correlation id).

        Raises:
            ValueError: a quantity or horizon that is not positive.
        """
        if quantity <= 0 or not horizon_s > 0:
            raise ValueError(
                f"a parent order needs quantity > 0 and horizon_s > 0, was {quantity}, {horizon_s}"
            )
        self._instruments(instrument_id)  # fail on an unknown instrument
        parent = self.book.start(
            strategy_id=strategy_id,
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            algo=algo,
            horizon_ns=int(horizon_s * _NS),
            now_ns=now_ns,
            arrival_price=self._market.mid(instrument_id),
            pretrade_cost_bps=self._estimate(instrument_id, side, quantity),
        )
        return parent.parent_id

    def _estimate(self, instrument_id: str, side: Side, quantity: Decimal) -> float | None:
        """Half the spread + the walk of the visible book for the whole quantity + the fee."""
        book = self._market.book(instrument_id)
        if book is not None:
            bid, ask, mid = book.best_bid(), book.best_ask(), book.mid()
            walk = expected_slippage_bps(book, side, quantity)
            if bid is None or ask is None or not mid or walk is None:
                return None
            half_spread = float((ask[0] - bid[0]) / 2 / mid * _BPS)
            return half_spread + walk + self._fee_bps
        quote = self._market.last_quote.get(instrument_id)
        if quote is None:
            return None
        mid = (quote.bid + quote.ask) / 2
        return float((quote.ask - quote.bid) / 2 / mid * _BPS) + self._fee_bps if mid else None

    def on_fill(self, fill: OrderFilled, order: Order | None) -> None:
        if order is None or not self.book or self.book.get(order.correlation_id) is None:
            return
        quote = self._instruments(fill.instrument_id).quote
        fee = fill.fee if fill.fee_currency == quote else ZERO
        self.book.on_fill(fill, order.correlation_id, fee)

    def finish(self, parent_id: str, reason: str, now_ns: int) -> TcaRecord | None:
        """Close ``parent_id`` (``reason``: why it ended short, "" when done); its TCA."""
        parent = self.book.get(parent_id)
        if parent is None:
            return None
        record = self.book.finish(parent_id, now_ns, self._market.mid(parent.instrument_id), reason)
        assert record is not None
        if self._sink is not None:
            self._sink(record)
        self._notify(
            ParentOrderDone(
                ts_event=now_ns, ts_init=now_ns, strategy_id=record.strategy_id,
                parent_id=record.parent_id, instrument_id=record.instrument_id,
                fields=record.as_fields(),
            )
        )  # fmt: skip
        return record

    def finish_all(self, now_ns: int) -> None:
        """The session's end: every parent still open, finished as such."""
        for parent in self.book.open_parents():
            done = parent.filled_qty >= parent.quantity
            self.finish(parent.parent_id, "" if done else "session ended", now_ns)
