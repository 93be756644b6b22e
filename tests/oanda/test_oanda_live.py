"""``OandaLive``: an OANDA v20 account as a venue of the live daemon, against the local server."""

from __future__ import annotations

import asyncio

import pytest

from genesis.core.commands import CancelAllOrders
from genesis.core.enums import Side
from genesis.core.events import QuoteTick
from genesis.daemon.bridge import Mailbox
from genesis.daemon.health import Level
from genesis.daemon.live_venues import LiveVenue
from genesis.daemon.oanda_live import OandaEndpoints, open_oanda_live, spot_balances
from genesis.errors import ConfigError
from genesis.exchange.oanda import OandaClient
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from genesis.settings import Settings
from tests.oanda.conftest import ASK0, BID0, BID1, TOKEN, D

ID = "oanda:GBP_USD"


def _endpoints(server: OandaSandboxServer, token: str = TOKEN) -> OandaEndpoints:
    return OandaEndpoints(rest_url=server.url, stream_url=server.url, token=token)


async def test_opens_with_instruments_marks_and_spot_balances(
    server: OandaSandboxServer, client: OandaClient
) -> None:
    """The account's instrument terms, the bid as mark, and the account as spot balances:
    after a 1,000 unit buy at the ask, GBP 1,000 and USD 100,000 less 1,000 x 1.57585;
    the fill is in the snapshot (a fresh journal backfills from the start)."""
    await client.create_order({"order": {"type": "MARKET", "instrument": "GBP_USD",
                                         "units": "1000", "clientExtensions": {"id": "f1"}}})  # fmt: skip
    live = await open_oanda_live(_endpoints(server), [ID], [], Mailbox())
    try:
        typed: LiveVenue = live  # it is the daemon's LiveVenue (checked by mypy)
        assert typed.key == "oanda"
        assert typed.name == "OANDA"
        (inst,) = live.instruments
        assert (inst.symbol, inst.base, inst.quote, inst.tick_size, inst.step_size) == (
            "GBP_USD", "GBP", "USD", D("0.00001"), D(1))  # fmt: skip
        assert live.marks == {ID: BID0}
        balances = {a: b.total for a, b in live.snapshot.balances.items()}
        assert balances == {"GBP": D(1000), "USD": D(100_000) - 1000 * ASK0}
        assert live.snapshot.currency == "USD"  # the account currency: equity is in it
        assert [(f.client_order_id, f.last_qty, f.last_px, f.instrument_id)
                for f in live.snapshot.fills] == [("f1", D(1000), ASK0, ID)]  # fmt: skip
        assert [(h.component, h.level) for h in live.health()] == [
            ("oanda_transactions", Level.HEALTHY), ("oanda_kill", Level.HEALTHY),
            ("oanda_orders", Level.HEALTHY)]  # fmt: skip
    finally:
        await live.close()


def test_spot_balances_of_a_short_and_other_instruments() -> None:
    """A short holds negative base and its proceeds in the quote; untraded ones are skipped."""
    positions = [
        {"instrument": "GBP_USD", "long": {"units": "0"},
         "short": {"units": "-500", "averagePrice": "1.57576"}},
        {"instrument": "EUR_USD", "long": {"units": "10", "averagePrice": "1.3"}, "short": {}},
    ]  # fmt: skip
    got = spot_balances("USD", D("100000.0000"), positions, ["GBP_USD"])
    assert {a: b.total for a, b in got.items()} == {"GBP": D(-500), "USD": D("100787.88000")}


async def test_a_short_opened_on_oanda_is_negative_base_and_the_kernel_trades_it_on_margin(
    server: OandaSandboxServer, client: OandaClient
) -> None:
    """After a 1,000 unit sell at the bid the snapshot holds GBP -1,000 and USD 100,000
    plus 1,000 x 1.57576; the instrument carries OANDA's 3.33% margin rate, so a kernel on
    that snapshot lets a further short through and refuses one beyond the margin."""
    from genesis.execution.factory import OrderFactory
    from genesis.kernel.builder import SessionSpec, build_kernel
    from genesis.testing.builders import RecordingLog

    await client.create_order({"order": {"type": "MARKET", "instrument": "GBP_USD",
                                         "units": "-1000", "clientExtensions": {"id": "s1"}}})  # fmt: skip
    live = await open_oanda_live(_endpoints(server), [ID], [], Mailbox())
    try:
        (inst,) = live.instruments
        assert inst.margin_rate == D("0.0333")
        balances = {a: b.total for a, b in live.snapshot.balances.items()}
        assert balances == {"GBP": D(-1000), "USD": D(100_000) + 1000 * BID0}
        lookup = {ID: inst}
        spec = SessionSpec(
            instruments=lookup, balances=balances, base_currency="USD", marks=live.marks
        )
        kernel = build_kernel(spec, RecordingLog())
        for fill in live.snapshot.fills:
            kernel.restore_fill(fill)
        assert kernel.portfolio.position_qty(ID) == D(-1000)
        kernel.handle(QuoteTick(ts_event=1, ts_init=1, instrument_id=ID, bid=BID0, ask=ASK0,
                                bid_size=D(0), ask_size=D(0)))  # fmt: skip
        orders = OrderFactory("s1", kernel.clock, lookup.__getitem__)
        assert kernel.refusal(orders.market(ID, Side.SELL, "1000")) is None
        refused = kernel.refusal(orders.market(ID, Side.SELL, "2000000"))
        assert refused is not None
        assert refused[0] == "INSUFFICIENT_MARGIN"
    finally:
        await live.close()


async def test_unexplained_orders_and_the_kill_cancel_them(
    server: OandaSandboxServer, client: OandaClient
) -> None:
    """A pending order this process did not place is named by its client id (or its OANDA
    id); the operator's cancel-all through the port cancels every pending order of it."""
    live = await open_oanda_live(_endpoints(server), [ID], [], Mailbox())
    try:
        for cid in ("outside", None):
            order = {"type": "LIMIT", "instrument": "GBP_USD", "units": "10", "price": "1.50000"}
            if cid:
                order["clientExtensions"] = {"id": cid}
            await client.create_order({"order": order})
        unknown = await live.unexplained_open_orders([ID])
        assert unknown == ["(OANDA order 2)", "outside"]
        (kill,) = live.kill_commands(1, [ID, "BTCUSDT"])
        assert isinstance(kill, CancelAllOrders)
        assert kill.strategy_id == "operator"
        live.port.execute(kill, 1)
        for _ in range(200):
            if not await client.pending_orders():
                break
            await asyncio.sleep(0.01)
        assert await client.pending_orders() == []
        assert await live.unexplained_open_orders([ID]) == []
    finally:
        await live.close()


async def test_pricing_stream_is_quote_ticks(server: OandaSandboxServer) -> None:
    """The pricing stream's snapshot and each new quote arrive as the instrument's ticks."""
    live = await open_oanda_live(_endpoints(server), [ID], [], Mailbox())
    ticks: list[QuoteTick] = []

    async def read() -> None:
        async for event in live.events([ID]):
            assert isinstance(event, QuoteTick)
            ticks.append(event)
            if len(ticks) == 2:
                return

    try:
        reader = asyncio.ensure_future(read())
        for _ in range(200):
            if ticks:
                break
            await asyncio.sleep(0.01)
        server.advance()
        await asyncio.wait_for(reader, 5)
        assert [(t.instrument_id, t.bid, t.bid_size) for t in ticks] == [
            (ID, BID0, D(10_000_000)), (ID, BID1, D(10_000_000))]  # fmt: skip
    finally:
        await live.close()


async def test_a_wrong_token_or_an_unknown_instrument_refuses_to_start(
    server: OandaSandboxServer,
) -> None:
    """One ConfigError line naming the venue; the token never appears in it."""
    with pytest.raises(ConfigError) as wrong:
        await open_oanda_live(_endpoints(server, "not-the-token-9f8e"), [ID], [], Mailbox())
    assert "oanda" in str(wrong.value)
    assert "not-the-token-9f8e" not in str(wrong.value)
    with pytest.raises(ConfigError, match="does not list oanda:EUR_USD"):
        await open_oanda_live(_endpoints(server), ["oanda:EUR_USD"], [], Mailbox())


def test_the_token_is_a_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """GENESIS_OANDA_TOKEN is masked in the settings' repr and handed to the redactor."""
    monkeypatch.setenv("GENESIS_OANDA_TOKEN", "canary-oanda-token-77aa")
    monkeypatch.setenv("GENESIS_OANDA_ACCOUNT_ID", "101-004-1234567-001")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "canary-oanda-token-77aa" not in repr(settings)
    assert "canary-oanda-token-77aa" in settings.secret_values()
    assert settings.oanda_account_id == "101-004-1234567-001"
    endpoints = OandaEndpoints(rest_url="x", stream_url="y", token="canary-oanda-token-77aa")
    assert "canary" not in repr(endpoints)


async def test_live_venues_without_a_token_refuse_oanda(tmp_path: object) -> None:
    """An oanda instrument with no GENESIS_OANDA_TOKEN: one line saying what to set."""
    from types import SimpleNamespace

    from genesis.daemon.assemble import open_live_venues
    from genesis.daemon.market import LiveStreams

    config = SimpleNamespace(instrument_ids=(ID,), database_url=None, data_dir=None)
    with pytest.raises(ConfigError, match="GENESIS_OANDA_TOKEN"):
        await open_live_venues(config, None, LiveStreams(), {}, (None, [], []), Mailbox())  # type: ignore[arg-type]
