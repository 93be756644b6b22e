"""OANDA v20 as a venue of a live session (issue 14): the daemon trades FX like any venue.

``OandaLive`` is the ``LiveVenue`` handle of an ``OandaVenue``
(``genesis.exchange.oanda``): the port the driver sends commands to, the
start-up snapshot, the account's instruments (from its ``/instruments``), the
first prices (``/pricing``: the bid), how a journaled order is resumed (by its
client extension id, never resent; OANDA's replace chain followed to its live end),
what an operator's kill adds (a cancel of every pending order of each instrument), its
health (the transaction and pricing streams; CRITICAL while a kill is not confirmed
or an order's fate could not be read) and its market data (the pricing
stream as quote ticks). Order events go into the session's one ``Mailbox``.

Balances, as the kernel counts them. The kernel books FX as spot: buying 1,000
GBP_USD holds 1,000 GBP and pays their price in USD. OANDA holds a netted
position and a balance in the account currency instead, so the snapshot states
the account that way: the base currency holds the net position's units, the
quote currency pays their average price, the account currency holds the
account's balance (realized P/L included), so their value at the mid is the
account's NAV. A short is the same with the signs turned: the base currency
holds negative units, the quote currency their proceeds. Each instrument carries
OANDA's ``marginRate`` (``Instrument.margin_rate``), so the kernel trades it on
margin as the account does: a sell without the base opens a short, and an order
is refused (``INSUFFICIENT_MARGIN``) when the margin it adds exceeds the margin
available (``genesis.core.margin``); OANDA checks again. Financing and conversion
of a quote currency that is not the account's are not modelled here (FX
accounting: ``genesis.portfolio``).

Configuration (``genesis.settings``): ``GENESIS_OANDA_REST_URL``,
``GENESIS_OANDA_STREAM_URL``, ``GENESIS_OANDA_ACCOUNT_ID`` (empty: the token's
first account) and ``GENESIS_OANDA_TOKEN`` (a secret: masked in every output,
also read from the keyring or the secrets file like the other keys).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.core.commands import CancelAllOrders, Command, SubmitOrder
from genesis.core.events import MarketEvent, QuoteTick
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.daemon.bridge import Mailbox, VenueBridge
from genesis.daemon.health import Health, Level
from genesis.errors import ConfigError, GenesisError, VenueError
from genesis.exchange.live import VenueBalance, VenueSnapshot
from genesis.exchange.oanda.replace import local_id
from genesis.exchange.oanda.rest import OandaClient, OandaInstrument
from genesis.exchange.oanda.streams import PriceStream
from genesis.exchange.oanda.venue import OandaVenue, oanda_name
from genesis.kernel.driver import VenuePort
from genesis.storage.repository import BalanceRecord, FillRecord

__all__ = ["OANDA", "OandaEndpoints", "OandaLive", "instrument_from_oanda", "open_oanda_live"]

OANDA = "oanda"  # the venue of its instrument ids: ``oanda:GBP_USD``


@dataclass(frozen=True, slots=True, kw_only=True)
class OandaEndpoints:
    """Where the OANDA venue connects, and with which token (masked in every repr)."""

    rest_url: str
    stream_url: str
    account_id: str = ""
    token: str = field(repr=False)
    timeout_s: float = 10.0


def instrument_from_oanda(inst: OandaInstrument) -> Instrument:
    """The kernel's instrument of an OANDA one: prices on the display precision's grid,
    units on the trade units precision's, the order size limits, traded on margin at
    the instrument's ``marginRate`` (long or short)."""
    base, _, quote = inst.name.partition("_")
    if not base or not quote:
        raise ConfigError(f"OANDA instrument {inst.name!r}: expected BASE_QUOTE")
    return Instrument(
        symbol=inst.name, base=base, quote=quote, tick_size=inst.tick,
        step_size=Decimal(1).scaleb(-inst.trade_units_precision),
        min_qty=inst.minimum_trade_size, max_qty=inst.maximum_order_units,
        venue="OANDA", source="oanda", margin_rate=inst.margin_rate,
    )  # fmt: skip


def spot_balances(
    currency: str, balance: Decimal, positions: list[dict[str, Any]], names: Iterable[str]
) -> dict[str, VenueBalance]:
    """The account as spot balances (see the module docstring) for the traded ``names``."""
    held: dict[str, Decimal] = {currency: balance}
    wanted = set(names)
    for p in positions:
        name = str(p.get("instrument", ""))
        base, _, quote = name.partition("_")
        if name not in wanted or not quote:
            continue
        for side in ("long", "short"):
            leg = p.get(side) or {}
            try:
                units = Decimal(str(leg.get("units", "0")))
                price = Decimal(str(leg.get("averagePrice", "0"))) if units else Decimal(0)
            except InvalidOperation:
                raise VenueError(
                    f"OANDA position {name} {side}: unreadable units or price"
                ) from None
            held[base] = held.get(base, Decimal(0)) + units
            held[quote] = held.get(quote, Decimal(0)) - units * price
    for name in wanted:  # every traded currency has a row, 0 when nothing is held
        for asset in name.partition("_")[::2]:
            held.setdefault(asset, Decimal(0))
    return {a: VenueBalance(a, q, Decimal(0)) for a, q in sorted(held.items())}


class OandaLive:
    """An OANDA v20 account as a live venue (see the module docstring)."""

    key = OANDA

    def __init__(self, venue: OandaVenue) -> None:
        self.venue = venue
        self.name = venue.name
        self.port: VenuePort = VenueBridge(venue)
        self.snapshot = VenueSnapshot(open_orders=(), balances={})
        self.instruments: list[Instrument] = []
        self.marks: dict[str, Decimal] = {}
        self._prices: PriceStream | None = None

    def recover(self, intent: SubmitOrder, timestamp_ms: int) -> None:
        self.venue.recover(intent, timestamp_ms)

    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]:
        """Client ids of the account's pending orders this process did not place (a fresh
        read); an order without a client id is named by its OANDA id."""
        names = {oanda_name(i) for i in instrument_ids}
        try:
            pending = await self.venue.client.pending_orders()
        except VenueError as exc:
            return [f"(open orders unreadable: {type(exc).__name__})"]
        known = self.venue.known_client_ids()
        unknown = []
        for o in pending:
            if o.get("instrument") not in names or o.get("tradeID"):
                continue  # another instrument, or a trade's own stop or target
            cid = str((o.get("clientExtensions") or {}).get("id", ""))
            if not cid or local_id(cid) not in known:
                unknown.append(cid or f"(OANDA order {o.get('id')})")
        return sorted(unknown)

    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
        return [
            CancelAllOrders(ts_init=now_ns, strategy_id="operator", instrument_id=i)
            for i in sorted(instrument_ids)
            if split_instrument_id(i)[0] == OANDA
        ]

    def balance_records(self, now_ns: int) -> list[BalanceRecord]:
        return [
            BalanceRecord(self.name, b.asset, b.free, b.locked, now_ns)
            for _, b in sorted(self.snapshot.balances.items())
        ]

    def health(self) -> list[Health]:
        out = []
        for what, stream in (
            ("oanda_transactions", self.venue.stream),
            ("oanda_prices", self._prices),
        ):
            if stream is None:
                continue
            up = stream.connected
            out.append(Health(what, Level.HEALTHY) if up else
                       Health(what, Level.DEGRADED, f"{what} stream disconnected"))  # fmt: skip
        for what, open_, why in (
            ("oanda_kill", self.venue.kill_unconfirmed, "kill not confirmed, retrying"),
            ("oanda_orders", self.venue.unresolved, "orders unresolved at the venue"),
        ):
            named = "; ".join(f"{k}: {v}" for k, v in sorted(open_.items()))
            out.append(Health(what, Level.CRITICAL, f"{why}: {named}") if open_ else
                       Health(what, Level.HEALTHY))  # fmt: skip
        return out

    async def events(self, instrument_ids: Sequence[str]) -> AsyncIterator[MarketEvent]:
        """The pricing stream of ``instrument_ids`` as quote ticks, stamped on arrival."""
        ids = {oanda_name(i): i for i in instrument_ids}
        if not ids:
            return
        stream = self._prices = PriceStream(self.venue.client, sorted(ids))
        try:
            async for price in stream.prices():
                instrument_id = ids.get(price.instrument)
                if instrument_id is None or not price.tradeable:
                    continue
                now = time.time_ns()
                yield QuoteTick(ts_event=now, ts_init=now, instrument_id=instrument_id,
                                bid=price.bid, ask=price.ask, bid_size=price.bid_size,
                                ask_size=price.ask_size)  # fmt: skip
        finally:
            stream.close()

    async def close(self) -> None:
        if self._prices is not None:
            self._prices.close()
        await self.venue.close()


async def open_oanda_live(
    endpoints: OandaEndpoints,
    instrument_ids: Sequence[str],
    fills: list[FillRecord],
    mailbox: Mailbox,
) -> OandaLive:
    """Connect the account, start its transaction stream into ``mailbox``, take its snapshot.

    Raises:
        ConfigError: the account does not list an instrument, refuses the token, or cannot
            be reached (nothing is left open).
    """
    from genesis.daemon.reconcile import last_trade_ids

    client = OandaClient(
        endpoints.rest_url, endpoints.token, endpoints.account_id,
        stream_url=endpoints.stream_url, timeout_s=endpoints.timeout_s,
    )  # fmt: skip
    venue = OandaVenue(client)
    live = OandaLive(venue)
    try:
        await venue.start(mailbox)
        names = {i: oanda_name(i) for i in instrument_ids}
        missing = [i for i, n in names.items() if n not in client.instruments]
        if missing:
            raise ConfigError(f"venue {OANDA}: the account does not list {', '.join(missing)}")
        live.instruments = [instrument_from_oanda(client.instruments[n]) for n in names.values()]
        found = await venue.snapshot(list(instrument_ids), last_trade_ids(fills, venue.name))
        summary = await client.summary()
        balances = spot_balances(venue.currency, Decimal(str(summary["balance"])),
                                 await client.positions(), names.values())  # fmt: skip
        live.snapshot = VenueSnapshot(found.open_orders, balances, found.fills, venue.currency)
        prices = {p.instrument: p for p in await client.pricing(sorted(set(names.values())))}
        live.marks = {i: prices[n].bid for i, n in names.items() if n in prices}
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await venue.close()
        if isinstance(exc, ConfigError) or not isinstance(exc, GenesisError | OSError | KeyError):
            raise
        reason = f"{type(exc).__name__}: {exc}"
        raise ConfigError(
            f"venue {OANDA} ({endpoints.rest_url}) refused or unreachable: {reason}"
        ) from None
    return live
