"""Rate-limit state shared per host and per API key (shared.SharedLimits, ratelimit views)."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from aiohttp import web

from genesis.errors import ConfigError, RateLimited
from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.errors import IpBanned
from genesis.exchange.binance.ratelimit import RateLimiter
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.shared import SharedLimits, key_digest, origin_of
from genesis.exchange.binance.signing import Credentials

from .conftest import CANARY_KEY, CANARY_SECRET

URL = "https://api.binance.com"


def test_one_state_per_origin() -> None:
    """Spellings of one origin share a state; another host or port gets its own."""
    shared = SharedLimits()

    first = shared.host("https://API.binance.com/")
    same = shared.host("https://api.binance.com:443")
    other_host = shared.host("https://data-api.binance.vision")
    other_port = shared.host("https://api.binance.com:9443")

    assert first is same
    assert first.ip is not other_host.ip
    assert first.ip is not other_port.ip
    assert origin_of("http://127.0.0.1:8080/api") == "http://127.0.0.1:8080"


def test_account_state_is_keyed_by_a_digest_never_the_key() -> None:
    """Clients with one key share the account state; the key is stored nowhere."""
    shared = SharedLimits()

    account = shared.account(CANARY_KEY)

    assert shared.account(CANARY_KEY) is account
    assert shared.account(CANARY_KEY + "x") is not account
    assert CANARY_KEY not in repr(shared)
    assert CANARY_KEY not in "".join(shared._accounts.keys())
    assert key_digest(CANARY_KEY) in shared._accounts


def test_clients_built_plainly_share_ip_state_and_clock() -> None:
    """Two BinanceRest on one host (no limiter given) share weight/ban state and the clock."""
    shared = SharedLimits()

    market = BinanceRest(URL, shared=shared)
    trading = BinanceRest(URL, Credentials(CANARY_KEY, CANARY_SECRET), shared=shared)

    assert market.limiter.ip is trading.limiter.ip
    assert market.clock is trading.clock
    assert market.limiter.account is not trading.limiter.account  # no key: a private one


def test_state_lives_while_a_client_does() -> None:
    """The registry holds state weakly: after the last client of a host, it starts clean."""
    shared = SharedLimits()
    rest = BinanceRest(URL, shared=shared)
    rest.limiter.on_response(429, {"Retry-After": "60"}, 0.0)

    kept = shared.host(URL).ip.blocked_for(0.0)
    del rest
    gc.collect()

    assert kept == 60.0
    assert shared.host(URL).ip.blocked_for(0.0) == 0.0


def test_a_private_clock_or_limiter_excludes_shared_state() -> None:
    """Shared state and a clock or limiter of the client's own are not mixed."""
    with pytest.raises(ConfigError, match="not both"):
        BinanceRest(URL, shared=SharedLimits(), clock=ServerClock(lambda: 0))


def test_order_rate_429_blocks_placements_of_that_account_only() -> None:
    """A 429 -1015 stops order placements of every client with the key; reads go on."""
    shared = SharedLimits()
    _, first = shared.limiter(URL, CANARY_KEY)
    _, second = shared.limiter(URL, CANARY_KEY)
    _, stranger = shared.limiter(URL, CANARY_KEY + "other")

    first.on_response(429, {"Retry-After": "10"}, 100.0, code=-1015)

    with pytest.raises(RateLimited) as blocked:
        second.check(105.0, placing=True)
    second.check(105.0)  # a read or a cancel is not an order placement
    stranger.check(105.0, placing=True)
    second.check(110.0, placing=True)
    assert blocked.value.retry_after_s == pytest.approx(5.0)
    assert second.statistics(105.0).orders_blocked_for_s == pytest.approx(5.0)


def test_a_429_during_a_ban_keeps_it_a_ban() -> None:
    """A 418 then a 429 inside the ban: still IpBanned until the later end."""
    limiter = RateLimiter()
    limiter.on_response(418, {"Retry-After": "120"}, 0.0)
    limiter.on_response(429, {"Retry-After": "200"}, 10.0)

    with pytest.raises(IpBanned) as banned:
        limiter.check(150.0)

    assert banned.value.retry_after_s == pytest.approx(60.0)


async def test_exchange_info_of_symbols_sets_the_weight_limit(loopback: Any) -> None:
    """exchangeInfo(symbols) sends symbols=[...] and adopts REQUEST_WEIGHT per minute."""
    seen: dict[str, str] = {}

    async def info(request: web.Request) -> web.Response:
        seen.update(request.query)
        limits = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        ]  # fmt: skip
        return web.json_response({"rateLimits": limits, "symbols": []})

    loopback.route("GET", "/api/v3/exchangeInfo", info)
    rest = BinanceRest(await loopback.start(), shared=SharedLimits())

    await rest.exchange_info(["NKNUSDT", "BTCUSDT"])
    await rest.close()

    assert json.loads(seen["symbols"]) == ["NKNUSDT", "BTCUSDT"]
    assert rest.limiter.weight_limit == 1200
