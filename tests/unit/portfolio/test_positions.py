"""Portfolio: balances, fees in three currencies, duplicate fills, marks and equity.

Prices are real BTCUSDT perpetual 1-minute bars from
genesis/resources/btcusdt-perp-1m-2022-01.csv.gz; instruments come from the
bundled real Binance exchangeInfo of 2021-10-12.
"""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from itertools import islice

import pytest

from genesis.core.enums import AccountingMethod, LiquiditySide, Side
from genesis.core.events import OrderFilled
from genesis.core.instruments import Instrument, load_exchange_info
from genesis.errors import ConfigError, DataError
from genesis.portfolio import Portfolio
from genesis.resources import BTCUSDT_1M_BARS, EXCHANGE_INFO

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
T0 = 1_640_991_660_000_000_000  # 2021-12-31 23:01:00 UTC, ns
MINUTE = 60_000_000_000
INSTRUMENTS = load_exchange_info(EXCHANGE_INFO)

OPEN_2301 = D("46319.0")  # real open of the 23:01 bar
CLOSE_2301 = D("46377.0")
CLOSE_2302 = D("46411.0")
CLOSE_2304 = D("46420.0")
CLOSE_2306 = D("46435.0")


def _fill(
    trade_id: str,
    side: Side,
    qty: str,
    px: Decimal,
    fee: str = "0",
    fee_currency: str = "USDT",
    *,
    strategy_id: str = "s1",
    instrument_id: str = "BTCUSDT",
    venue: str = "BINANCE",
    ts: int = T0,
) -> OrderFilled:
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        client_order_id=f"{strategy_id}-{trade_id}",
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        venue=venue,
        trade_id=trade_id,
        side=side,
        last_qty=D(qty),
        last_px=px,
        fee=D(fee),
        fee_currency=fee_currency,
        liquidity=LiquiditySide.TAKER,
    )


def _portfolio(method: AccountingMethod = AccountingMethod.FIFO, **balances: str) -> Portfolio:
    start = {"USDT": D("100000")} | {asset: D(v) for asset, v in balances.items()}
    return Portfolio(INSTRUMENTS.get, method=method, balances=start)


def test_round_trip_with_quote_fees_leaves_start_plus_net_pnl() -> None:
    """Buy 0.5 @ 46319.0, sell 0.5 @ 46435.0: USDT ends at start + net P&L, BTC at 0."""
    pf = _portfolio()
    pf.apply_fill(_fill("1", BUY, "0.5", OPEN_2301, "9.2638"))

    closed = pf.apply_fill(_fill("2", SELL, "0.5", CLOSE_2306, "9.287", ts=T0 + 5 * MINUTE))

    assert closed is not None
    assert [c.net_pnl for c in closed] == [D("39.4492")]
    assert pf.balances() == {"USDT": D("100000") + D("39.4492"), "BTC": D("0.0")}


def test_fee_in_base_asset_debits_btc_and_counts_at_fill_price() -> None:
    """A 0.0005 BTC buy fee leaves 0.4995 BTC and costs 0.0005 * 46319.0 USDT of P&L."""
    pf = _portfolio()
    pf.apply_fill(_fill("1", BUY, "0.5", OPEN_2301, "0.0005", "BTC"))

    closed = pf.apply_fill(_fill("2", SELL, "0.4995", CLOSE_2306, "23.1942825", ts=T0 + 5 * MINUTE))

    assert closed is not None
    assert [(c.quantity, c.gross_pnl, c.fees) for c in closed] == [
        (D("0.4995"), D("57.942"), D("23.1363405") + D("23.1942825")),
    ]
    assert pf.balance("BTC") == 0
    assert pf.fees_by_currency() == {"BTC": D("0.0005"), "USDT": D("23.1942825")}
    # The lot keeps the filled 0.5, so 0.0005 stays open though the wallet holds none.
    assert pf.position("BTCUSDT").qty == D("0.0005")


def test_fee_in_third_currency_is_tracked_apart_and_kept_out_of_pnl() -> None:
    """A BNB fee debits the BNB balance, shows in fees_by_currency, and leaves net == gross."""
    pf = _portfolio(BNB="1")
    pf.apply_fill(_fill("1", BUY, "0.5", OPEN_2301, "0.0031", "BNB"))

    closed = pf.apply_fill(_fill("2", SELL, "0.5", CLOSE_2306, "0.0031", "BNB", ts=T0 + MINUTE))

    assert closed is not None
    assert [(c.gross_pnl, c.fees, c.net_pnl) for c in closed] == [(D("58.0"), D("0"), D("58.0"))]
    assert pf.balance("BNB") == D("0.9938")
    assert dict(pf.position("BTCUSDT").fees_by_currency) == {"BNB": D("0.0062")}


def test_equity_leaves_out_and_names_a_balance_it_cannot_value() -> None:
    """A BNB balance with no BNBUSDT mark or fill (fees paid in BNB) is named in ``unvalued``
    and left out; equity never raises on a trading path (it killed the daemon's loss check)."""
    pf = _portfolio(BNB="1")

    assert pf.equity() == pf.balance("USDT")
    assert pf.unvalued == ("BNB",)
    pf.mark("BNBUSDT", D("300"))
    assert pf.equity() == pf.balance("USDT") + D(300)
    assert pf.unvalued == ()


def test_an_asset_of_another_venue_is_valued_by_the_instrument_its_fills_came_from() -> None:
    """BTC bought on bybit:BTCUSD is valued at bybit:BTCUSD's mark, not a BTCUSD of binance."""
    bybit = Instrument(
        symbol="BTCUSD", base="BTC", quote="USD", tick_size=D("0.01"), step_size=D(1),
        venue="BYBIT",
    )  # fmt: skip
    pf = Portfolio({"bybit:BTCUSD": bybit}.__getitem__, balances={"USD": D(50_000)},
                   base_currency="USD")  # fmt: skip
    fill = OrderFilled(
        ts_event=1, ts_init=1, client_order_id="c", strategy_id="s", instrument_id="bybit:BTCUSD",
        venue="PAPER-BYBIT", trade_id="1", side=Side.BUY, last_qty=D(1), last_px=D(17_000),
        fee=D(0), fee_currency="USD", liquidity=LiquiditySide.TAKER,
    )  # fmt: skip
    pf.apply_fill(fill)
    pf.mark("bybit:BTCUSD", D(17_500))
    assert pf.equity() == D(50_500)
    assert pf.unvalued == ()


def test_spot_equity_counts_the_btc_balance_once() -> None:
    """After buying 0.1 BTC @ 46319.0, equity at the 46420.0 mark is 100000 + 0.1 * 101."""
    pf = _portfolio()
    pf.apply_fill(_fill("1", BUY, "0.1", OPEN_2301))

    pf.mark("BTCUSDT", CLOSE_2304)

    assert pf.equity() == D("100010.1")


def test_equity_without_a_mark_uses_the_last_fill_price() -> None:
    """Before any mark, the BTC balance is valued at the last BTCUSDT fill price."""
    pf = _portfolio()
    pf.apply_fill(_fill("1", BUY, "0.1", OPEN_2301))

    pf.apply_fill(_fill("2", BUY, "0.1", CLOSE_2302, ts=T0 + MINUTE))

    assert pf.equity() == D("100000") - D("9273.0") + D("0.2") * CLOSE_2302


def test_duplicate_trade_id_is_ignored() -> None:
    """Replaying a fill with a known (venue, instrument, trade id) returns None, changes nothing."""
    pf = _portfolio()
    pf.apply_fill(_fill("7", BUY, "0.5", OPEN_2301, "9.2638"))
    before = (pf.balances(), pf.positions(), pf.closed_lots(), pf.fees_by_currency())

    result = pf.apply_fill(_fill("7", SELL, "0.5", CLOSE_2306, "9.287"))

    assert result is None
    assert (pf.balances(), pf.positions(), pf.closed_lots(), pf.fees_by_currency()) == before


def test_same_trade_id_on_another_venue_is_a_different_fill() -> None:
    """Trade ids are unique per venue and instrument only, so another venue's id 7 applies."""
    pf = _portfolio()
    pf.apply_fill(_fill("7", BUY, "0.5", OPEN_2301))

    pf.apply_fill(_fill("7", BUY, "0.5", OPEN_2301, venue="BINANCE_PAPER"))

    assert pf.position("BTCUSDT").qty == D("1.0")


def test_strategy_positions_sum_to_the_instrument_aggregate() -> None:
    """Two strategies, one long and one short, add up to the per-instrument view."""
    pf = _portfolio()
    pf.apply_fill(_fill("1", BUY, "0.5", OPEN_2301, "9.2638", strategy_id="trend"))
    pf.apply_fill(_fill("2", SELL, "0.2", CLOSE_2301, "3.71016", strategy_id="revert"))
    pf.apply_fill(_fill("3", SELL, "0.1", CLOSE_2302, "1.85644", strategy_id="trend"))
    pf.mark("BTCUSDT", CLOSE_2304)

    parts = pf.positions(strategy_id="trend") + pf.positions(strategy_id="revert")
    total = pf.position("BTCUSDT")

    assert (total.qty, total.realized_pnl, total.unrealized_pnl) == (
        sum(p.qty for p in parts),
        sum(p.realized_pnl for p in parts),
        sum(p.unrealized_pnl for p in parts),
    )
    assert (total.qty, total.realized_pnl, total.unrealized_pnl) == (D("0.2"), D("9.2"), D("31.8"))
    assert total.unrealized_pnl == total.qty * (CLOSE_2304 - total.avg_open_px)
    assert dict(total.fees_by_currency) == {"USDT": D("14.83040")}


def test_mark_refuses_a_non_positive_price() -> None:
    """mark() with price 0 raises DataError naming the instrument."""
    pf = _portfolio()

    with pytest.raises(DataError, match="BTCUSDT"):
        pf.mark("BTCUSDT", D("0"))


def test_unknown_instrument_is_refused_and_changes_nothing() -> None:
    """A fill for an instrument missing from the mapping raises ConfigError; balances stay."""
    pf = Portfolio({"BTCUSDT": INSTRUMENTS.get("BTCUSDT")}, balances={"USDT": D("1000")})

    with pytest.raises(ConfigError, match="ETHUSDT"):
        pf.apply_fill(_fill("1", BUY, "0.1", OPEN_2301, instrument_id="ETHUSDT"))

    assert (pf.balances(), pf.positions()) == ({"USDT": D("1000")}, [])


def test_non_decimal_starting_balance_is_a_config_error() -> None:
    """A float starting balance is refused: money must be exact."""
    with pytest.raises(ConfigError, match="USDT"):
        Portfolio(INSTRUMENTS.get, balances={"USDT": 1000.5})  # type: ignore[dict-item]


def test_replaying_real_bars_conserves_value_exactly() -> None:
    """Trading 240 real 1-minute closes: equity change == net realised + unrealised - open fees."""
    with gzip.open(BTCUSDT_1M_BARS, "rt", encoding="ascii") as fh:
        closes = [D(row["close"]) for row in islice(csv.DictReader(fh), 240)]
    pf = _portfolio(AccountingMethod.LIFO)
    start = pf.equity()
    sides = (BUY, BUY, SELL, BUY, SELL, SELL, SELL, BUY)
    for i, px in enumerate(closes):
        qty = D("0.00001") * (i % 7 + 1) * 13
        pf.apply_fill(_fill(str(i), sides[i % 8], str(qty), px, str(qty * px * D("0.0004"))))
        pf.mark("BTCUSDT", px)

    book = pf.book("BTCUSDT", "s1")
    assert book is not None
    net = sum(c.net_pnl for c in pf.closed_lots())
    assert pf.equity() - start == net + book.unrealized_pnl(closes[-1]) - book.open_fees
    assert len(pf.closed_lots()) > 100


def test_position_qty_per_strategy_and_summed() -> None:
    """position_qty gives each strategy's signed quantity, and their sum without a strategy."""
    pf = _portfolio()
    pf.apply_fill(_fill("1", BUY, "0.5", OPEN_2301, strategy_id="trend"))
    pf.apply_fill(_fill("2", SELL, "0.2", CLOSE_2301, strategy_id="revert"))

    qtys = [pf.position_qty("BTCUSDT", sid) for sid in ("trend", "revert", "idle", None)]

    assert qtys == [D("0.5"), D("-0.2"), D("0"), D("0.3")]


def test_dollar_stablecoins_count_at_par_in_a_usd_equity() -> None:
    """A USD-based account holding USDT and USDC values them 1:1; BTC still at its mark."""
    pf = Portfolio(
        INSTRUMENTS.get,
        balances={"USD": D("750"), "USDT": D("250"), "USDC": D("10"), "BTC": D("0.001")},
        base_currency="USD",
    )
    pf.mark("bybit:BTCUSD", D("17207.5"))  # never priced: BTC has no USD mark of its own

    assert pf.equity() == D("1010")
    assert pf.unvalued == ("BTC",)
