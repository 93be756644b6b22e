"""Replaying real L2 recordings through kernel and simulated venue: the paper-mode path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from genesis import resources
from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, OrderFilled
from genesis.data.capture import read_binance_streams, read_spot_capture
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.driver import Driver, merge_streams
from genesis.portfolio import Portfolio
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.instruments import lookup

STREAMS = (
    Path(__file__).resolve().parents[1] / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
)


class TakerParams(StrategyParams):
    quantity: Decimal = Decimal("0.05")
    hold_updates: int = 200


class BookTaker(Strategy[TakerParams]):
    """Buys at market on every 400th in-sync book update, sells ``hold_updates`` later."""

    Params = TakerParams

    def on_start(self) -> None:
        self.updates = 0
        self.bought_at = -1

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        if self.ctx.market.book(update.instrument_id) is None:
            return
        self.updates += 1
        position = self.ctx.portfolio.position_qty(update.instrument_id)
        if self.ctx.open_orders(update.instrument_id):
            return
        if position == 0 and self.updates % 400 == 0:
            self.ctx.submit(
                self.ctx.orders.market(update.instrument_id, Side.BUY, self.params.quantity)
            )
            self.bought_at = self.updates
        elif position > 0 and self.updates - self.bought_at >= self.params.hold_updates:
            self.ctx.submit(self.ctx.orders.market(update.instrument_id, Side.SELL, position))


def _run(symbol: str = "BTCUSDT") -> tuple[Driver, Portfolio]:
    balances = {"USDT": Decimal(100_000)}
    fees = FeeModel(maker_bps=Decimal(1), taker_bps=Decimal(10))
    venue = SimulatedVenue(instruments=lookup, balances=balances, fees=fees)
    spec = SessionSpec(
        instruments=lookup, balances=balances, base_currency="USDT", fee_rate=fees.worst_rate,
        strategies=[StrategySpec(cls=BookTaker, strategy_id="taker", params=TakerParams(),
                                 instruments=(symbol,))],
    )  # fmt: skip
    kernel = build_kernel(spec, _Log())
    portfolio = kernel.portfolio
    replay = Driver(kernel, venue)
    replay.run(read_binance_streams(STREAMS, symbol))
    replay.finish()
    return replay, portfolio


class _Log:
    def _noop(self, *args: object, **kwargs: object) -> None:
        return None

    debug = info = warning = error = _noop


def test_l2_replay_trades_and_the_ledgers_agree() -> None:
    """Market orders walk the real book; the venue's account and the portfolio agree exactly."""
    replay, portfolio = _run()
    fills = [e for e in replay.order_events if isinstance(e, OrderFilled)]
    assert replay.stats.fills == len(fills) > 10
    assert replay.venue.account.balances() == {
        k: v for k, v in sorted(portfolio.balances().items()) if v != 0
    }
    assert portfolio.balance("USDT") < Decimal(100_000)  # taker fees and spread cost money


def test_l2_replay_is_deterministic() -> None:
    """The same recording twice gives the same order events, byte for byte."""
    first, _ = _run()
    second, _ = _run()
    assert [repr(e) for e in first.order_events] == [repr(e) for e in second.order_events]


def test_fills_are_at_prices_the_book_showed() -> None:
    """Every taker buy fills at or above the best bid it crossed: no invented prices."""
    replay, _ = _run()
    buys = [e for e in replay.order_events if isinstance(e, OrderFilled) and e.side is Side.BUY]
    assert buys
    assert all(f.last_px > Decimal("50000") and f.last_px % Decimal("0.01") == 0 for f in buys)


def test_merged_streams_are_in_time_order() -> None:
    """Merging the 2021 capture with the 2024 streams yields one non-decreasing timeline."""
    merged = list(
        merge_streams(
            read_spot_capture(resources.SPOT_CAPTURE), read_binance_streams(STREAMS, "BTCUSDT")
        )
    )
    times = [e.ts_init for e in merged]
    assert times == sorted(times)
    assert len(merged) > 40_000
