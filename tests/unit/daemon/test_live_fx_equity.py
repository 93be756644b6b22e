"""A live OANDA session's equity: measured in the account currency (the snapshot's), every
currency priced by the session's instruments, a position held without a journaled fill
included.

The daemon is assembled by ``live_daemon`` on a stand-in OANDA venue (nothing is contacted),
as in ``test_live_allocations.py``. Prices are real: USD/JPY bid 86.655 (the first TrueFX
quote of tests/data/usdjpy-quotes-2013-01.csv.gz); GBP/USD bid 1.57576, ask 1.57585 (the
2012-02-01 00:00 closes of tests/data/gbpusd-1m-2012-02-*.csv.gz).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from genesis.config.models import StrategyConfig
from genesis.core.enums import Side
from genesis.core.events import QuoteTick
from genesis.core.instruments import Instrument, InstrumentTable
from genesis.daemon.assemble import live_daemon
from genesis.daemon.bridge import Mailbox
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.exchange.live import VenueBalance, VenueSnapshot
from genesis.execution.factory import OrderFactory
from genesis.risk.limits import Tier
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.testing.builders import RecordingLog

D = Decimal


def _pair(name: str, tick: str, rate: str) -> Instrument:
    base, _, quote = name.partition("_")
    return Instrument(symbol=name, base=base, quote=quote, tick_size=D(tick), step_size=D(1),
                      min_qty=D(1), venue="OANDA", source="oanda", margin_rate=D(rate))  # fmt: skip


@pytest.fixture
async def closing() -> AsyncIterator[list[Daemon]]:
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        if daemon.journal is not None:
            await daemon.journal.close()


async def _live(
    tmp_path: Path, closing: list[Daemon], inst: Instrument, bid: Decimal, held: dict[str, Decimal]
) -> Daemon:
    """A daemon trading ``oanda:<inst>`` on a USD account holding ``held``, marked at ``bid``."""
    iid = f"oanda:{inst.symbol}"
    repo = await open_repository(None, tmp_path, LIVE_SQLITE_NAME)
    balances = {a: VenueBalance(a, q, D(0)) for a, q in held.items()}
    venue: Any = SimpleNamespace(
        key="oanda", name="OANDA", port=None, instruments=[inst], marks={iid: bid},
        snapshot=VenueSnapshot(open_orders=(), balances=balances, currency="USD"),
        recover=lambda intent, ts_ms: None,
    )  # fmt: skip
    strategy = StrategyConfig.model_validate(
        {"id": "fx", "strategy": "sma_cross", "tier": "sniper", "instruments": [iid]}
    )
    config = DaemonConfig(tier=Tier.SNIPER, strategies=(strategy,),
                          instruments=InstrumentTable([]), data_dir=tmp_path)  # fmt: skip
    try:
        daemon = live_daemon(config, [venue], (repo, [], []), Mailbox(), log=RecordingLog())
    except BaseException:
        await repo.close()  # its connection thread would keep the process alive
        raise
    closing.append(daemon)
    return daemon


async def test_usd_jpy_on_a_usd_account_has_its_usd_equity_and_trades(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Equity is in USD (the account's), 100,000; at bid 86.655 / ask 86.728 a 1,000 unit
    buy needs 40 USD of margin and is 1,000 USD of position (the sniper tier allows 2,000):
    it passes; 3,000 units are too large a position, 3,000,000 need 120,000 USD of margin
    (was: equity in JPY, USD unpriced, 0, every buy refused INSUFFICIENT_MARGIN)."""
    inst = _pair("USD_JPY", "0.001", "0.04")
    held = {"USD": D(100_000), "JPY": D(0)}
    daemon = await _live(tmp_path, closing, inst, D("86.655"), held)
    portfolio = daemon.kernel.portfolio
    assert portfolio.base_currency == "USD"
    assert (portfolio.equity(), portfolio.unvalued) == (D(100_000), ())
    daemon.kernel.handle(QuoteTick(ts_event=1, ts_init=1, instrument_id="oanda:USD_JPY",
                                   bid=D("86.655"), ask=D("86.728"),
                                   bid_size=D(0), ask_size=D(0)))  # fmt: skip
    orders = OrderFactory("fx", daemon.kernel.clock, {"oanda:USD_JPY": inst}.__getitem__)
    assert (
        daemon.kernel.refusal(orders.market("oanda:USD_JPY", Side.BUY, "1000", confidence=0.9))
        is None
    )
    buy = orders.market("oanda:USD_JPY", Side.BUY, "3000", confidence=0.9)
    assert daemon.kernel.refusal(buy) == (  # the tier's 2% of equity, in USD (units)
        "MAX_POSITION_SIZE",
        "position notional 3000.00 USD would exceed 2% of equity = 2000.00 (sniper)",
    )
    buy = orders.market("oanda:USD_JPY", Side.BUY, "3000000", confidence=0.9)
    refused = daemon.kernel.refusal(buy)
    assert refused == (
        "INSUFFICIENT_MARGIN",
        "buy 3000000 USD_JPY needs 120000.0000 USD margin (0.04 of its value),"
        " 100000.0000 USD available",
    )


async def test_a_gbp_position_without_a_journaled_fill_is_valued(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """2,000,000 GBP bought at 1.57585 in the OANDA UI (a fresh journal): at the bid
    1.57576 the NAV is 100,000 less 2,000,000 x 0.00009 = 99,820 (was -3,051,520)."""
    inst = _pair("GBP_USD", "0.00001", "0.0333")
    units = D(2_000_000)
    held = {"GBP": units, "USD": 100_000 - units * D("1.57585")}
    daemon = await _live(tmp_path, closing, inst, D("1.57576"), held)
    portfolio = daemon.kernel.portfolio
    assert portfolio.base_currency == "USD"
    assert (portfolio.equity(), portfolio.unvalued) == (D("99820.00000"), ())
