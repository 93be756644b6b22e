"""The venues of a live session: native Binance and any ccxt exchange, behind one interface.

A live daemon trades on one venue or several at once. Each connected venue is a
``LiveVenue`` handle: the port the driver sends commands to, what it held at
start (the snapshot the reconciliation reads), its instruments and starting
prices, how it resumes a journaled order (a query by client id, never a
resend), what an operator's kill adds there, its health, and its market data.
``BinanceLive`` wraps the native connector's session; ``CcxtLive`` wraps a
``CcxtVenue`` (fills, order states, books and trades streamed by ccxt.pro
wherever the exchange has them). Every venue delivers its order events into
the session's one ``Mailbox``, so the trading loop sees them in arrival order.

A ccxt venue is configured by ``GENESIS_CCXT_VENUES`` (JSON, see ``CcxtSpec``)
and its keys by ``GENESIS_CCXT_<VENUE>_API_KEY`` / ``_API_SECRET`` /
``_PASSWORD`` in the environment or ``.env``, or ``ccxt_<venue>_api_key``... in the
OS keyring or the encrypted secrets file, with the precedence of every other
secret (``genesis.secretstore``; masked in every output).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from genesis.core.commands import CancelAllOrders, Command, SubmitOrder
from genesis.core.events import MarketEvent
from genesis.core.instruments import Instrument, ids_on, split_instrument_id
from genesis.daemon.bridge import Mailbox, VenueBridge
from genesis.daemon.health import Health, Level
from genesis.daemon.market import binance_events
from genesis.errors import ConfigError, GenesisError, VenueError
from genesis.exchange.live import VenueSnapshot
from genesis.kernel.driver import VenuePort
from genesis.secretstore import ccxt_secret_names
from genesis.storage.repository import BalanceRecord, FillRecord

if TYPE_CHECKING:
    from genesis.daemon.live_session import LiveSession
    from genesis.exchange.ccxt.venue import CcxtVenue
    from genesis.settings import Settings

__all__ = ["BinanceLive", "CcxtLive", "CcxtSpec", "LiveVenue", "ccxt_secrets", "open_ccxt_live"]


class LiveVenue(Protocol):
    """One connected venue of a live session (see the module docstring)."""

    key: str  # the venue of its instrument ids, lower case ("binance", "okx")
    name: str  # the journal's venue name ("BINANCE", "OKX")
    port: VenuePort
    snapshot: VenueSnapshot
    instruments: list[Instrument]
    marks: dict[str, Decimal]  # instrument id -> a starting price

    def recover(self, intent: SubmitOrder, timestamp_ms: int) -> None: ...
    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]: ...
    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]: ...
    def balance_records(self, now_ns: int) -> list[BalanceRecord]: ...
    def health(self) -> list[Health]: ...
    def events(self, instrument_ids: Sequence[str]) -> AsyncIterator[MarketEvent]: ...
    async def close(self) -> None: ...


def _cancel_all(now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
    return [
        CancelAllOrders(ts_init=now_ns, strategy_id="operator", instrument_id=i)
        for i in sorted(instrument_ids)
    ]


class BinanceLive:
    """The native Binance connector's session as a live venue."""

    key = "binance"

    def __init__(self, session: LiveSession, ws_url: str, kinds: tuple[str, ...]) -> None:
        self.session = session
        self.name = session.venue.name
        self.port: VenuePort = VenueBridge(session.venue)
        self.snapshot = session.snapshot
        self.instruments = list(session.instruments)
        self.marks = {i: p for i, p in session.marks.items() if p is not None}
        self._ws_url, self._kinds = ws_url, kinds

    @property
    def ws_url(self) -> str:
        return self._ws_url

    @property
    def kinds(self) -> tuple[str, ...]:
        return self._kinds

    def recover(self, intent: SubmitOrder, timestamp_ms: int) -> None:
        self.session.venue.recover(intent, timestamp_ms, resend=False)

    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]:
        """Client ids of the venue's open orders this process did not place (a fresh read)."""
        known = set(self.session.venue.tracker.orders)
        unknown: list[str] = []
        try:
            for symbol in sorted(instrument_ids):
                rows = await self.session.rest.open_orders(symbol)
                unknown += [
                    str(r.get("clientOrderId"))
                    for r in rows
                    if isinstance(r, dict) and r.get("clientOrderId") not in known
                ]
        except VenueError as exc:
            return [f"(open orders unreadable: {type(exc).__name__})"]
        return sorted(unknown)

    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
        return _cancel_all(now_ns, instrument_ids)

    def balance_records(self, now_ns: int) -> list[BalanceRecord]:
        return [
            BalanceRecord(self.name, b.asset, b.free, b.locked, now_ns)
            for _, b in sorted(self.session.venue.balances.items())
        ]

    def health(self) -> list[Health]:
        clock, stream = self.session.rest.clock, self.session.stream
        return [
            Health("venue_clock", Level.DEGRADED, f"venue clock offset {clock.offset_ms:.0f} ms")
            if clock.degraded
            else Health("venue_clock", Level.HEALTHY),
            Health("user_stream", Level.DEGRADED, "user data stream silent or disconnected")
            if stream.degraded or not stream.subscribed
            else Health("user_stream", Level.HEALTHY),
        ]

    async def events(self, instrument_ids: Sequence[str]) -> AsyncIterator[MarketEvent]:
        """The venue's own market streams (its REST client shares the session's limits)."""
        from genesis.exchange.binance import BinanceRest

        rest = BinanceRest(self.session.rest.base_url)  # public data: never signed
        try:
            async for event in binance_events(rest, self._ws_url, instrument_ids, self._kinds):
                yield event
        finally:
            await rest.close()

    async def close(self) -> None:
        await self.session.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class CcxtSpec:
    """One ccxt venue of ``GENESIS_CCXT_VENUES``: ``{"okx": {"exchange": "okx"}}``.

    Attributes:
        exchange: the ccxt exchange id (``okx``, ``bybit``, ``binance``, ...).
        api: entries merged into the exchange's ``urls["api"]`` (``ws`` merged into its
            own map): point a venue at a testnet or at the local exchange.
        options: ccxt options (e.g. ``{"defaultType": "spot"}``).
        kinds: market data: ``book``, ``trades``, ``quote``, ``quote_book``, ``bars``.
    """

    exchange: str
    api: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ("book", "trades")

    @classmethod
    def parse(cls, venue: str, raw: object) -> CcxtSpec:
        """Raises ConfigError naming the venue and the field."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("exchange"), str):
            raise ConfigError(f"GENESIS_CCXT_VENUES[{venue!r}]: needs an 'exchange' (ccxt id)")
        unknown = set(raw) - {"exchange", "api", "options", "kinds"}
        if unknown:
            raise ConfigError(f"GENESIS_CCXT_VENUES[{venue!r}]: unknown keys {sorted(unknown)}")
        kinds = tuple(raw.get("kinds") or ("book", "trades"))
        api, options = dict(raw.get("api") or {}), dict(raw.get("options") or {})
        return cls(exchange=raw["exchange"], api=api, options=options, kinds=kinds)  # fmt: skip


def ccxt_secrets(venue: str, settings: Settings | None = None) -> dict[str, str]:
    """``apiKey``/``secret``/``password`` for ``venue``: environment and ``.env``
    (``GENESIS_CCXT_<VENUE>_API_KEY``...), then the keyring, then the secrets file
    (``Settings.ccxt_keys``; ``settings`` default: ``load_settings()``)."""
    from genesis.settings import load_settings

    return (settings or load_settings()).ccxt_keys(venue)


def _exchange(venue: str, spec: CcxtSpec) -> Any:
    import ccxt.pro as ccxt_pro

    cls = getattr(ccxt_pro, spec.exchange, None)
    if cls is None:
        raise ConfigError(f"venue {venue}: ccxt has no streaming exchange {spec.exchange!r}")
    secrets = ccxt_secrets(venue)
    if not {"apiKey", "secret"} <= set(secrets):
        names = ccxt_secret_names(venue)
        key, secret = names["apiKey"], names["secret"]
        raise ConfigError(
            f"venue {venue}: live trading needs GENESIS_{key.upper()} and"
            f" GENESIS_{secret.upper()} (environment or .env), or {key} and {secret} in the"
            " keyring or the secrets file (`genesis secrets set NAME`)"
        )
    exchange = cls({**secrets, "enableRateLimit": True, "options": dict(spec.options)})
    api = dict(exchange.urls.get("api") or {})
    for key, value in spec.api.items():
        api[key] = {**api.get(key, {}), **value} if isinstance(value, Mapping) else value
    exchange.urls["api"] = api
    return exchange


class CcxtLive:
    """A ccxt exchange as a live venue."""

    def __init__(self, key: str, venue: CcxtVenue, spec: CcxtSpec) -> None:
        self.key, self.venue, self.spec = key, venue, spec
        self.name = venue.name
        self.port: VenuePort = VenueBridge(venue)
        self.snapshot = VenueSnapshot(open_orders=(), balances={})
        self.instruments: list[Instrument] = []
        self.marks: dict[str, Decimal] = {}

    def recover(self, intent: SubmitOrder, timestamp_ms: int) -> None:
        self.venue.recover(intent, timestamp_ms)

    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]:
        ids = ids_on(self.key, instrument_ids)
        try:
            found = await self.venue.snapshot(ids, {})
        except VenueError as exc:
            return [f"(open orders unreadable: {type(exc).__name__})"]
        known = self.venue.known_client_ids()
        return sorted(
            o.client_order_id for o in found.open_orders if o.client_order_id not in known
        )

    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
        return _cancel_all(
            now_ns, (i for i in instrument_ids if split_instrument_id(i)[0] == self.key)
        )

    def balance_records(self, now_ns: int) -> list[BalanceRecord]:
        return [
            BalanceRecord(self.name, b.asset, b.free, b.locked, now_ns)
            for _, b in sorted(self.snapshot.balances.items())
        ]

    def health(self) -> list[Health]:
        return []

    async def events(self, instrument_ids: Sequence[str]) -> AsyncIterator[MarketEvent]:
        kinds: Any = self.spec.kinds
        source = self.venue.market_source(list(instrument_ids), kinds, venue=self.key)
        await source.start()
        try:
            async for event in source:
                yield event
        finally:
            await source.close()

    async def close(self) -> None:
        await self.venue.close()


async def open_ccxt_live(
    key: str,
    spec: CcxtSpec,
    instrument_ids: Sequence[str],
    fills: list[FillRecord],
    mailbox: Mailbox,
) -> CcxtLive:
    """Connect a ccxt venue, start its streams into ``mailbox`` and take its snapshot.

    Raises:
        ConfigError: unknown exchange, missing keys, a symbol it does not list, or the venue
            unreachable (nothing is left open).
    """
    from genesis.daemon.reconcile import last_trade_ids
    from genesis.exchange.ccxt.venue import CcxtVenue

    venue = CcxtVenue(_exchange(key, spec), name=key.upper())
    live = CcxtLive(key, venue, spec)
    try:
        await venue.start(mailbox)
        table = venue.instruments()  # by the venue's market id
        symbols = {i: split_instrument_id(i)[1] for i in instrument_ids}
        missing = [i for i, symbol in symbols.items() if symbol not in table]
        if missing:
            raise ConfigError(f"venue {key}: does not list {', '.join(missing)}")
        live.instruments = [table[symbol] for symbol in symbols.values()]
        live.snapshot = await venue.snapshot(list(instrument_ids), last_trade_ids(fills, live.name))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await venue.close()
        if isinstance(exc, ConfigError) or not isinstance(exc, GenesisError | OSError):
            raise
        raise ConfigError(f"venue {key} ({spec.exchange}) refused or unreachable: {exc}") from None
    return live
