"""Venue benchmark: book sync throughput and order round trips on loopback. One JSON line.

* ``depth_updates_per_s``: raw depth frames (JSON text) through the native
  client's feed core (parse, sequence check, apply to the local book), from
  the real captures: the 2021 spot capture (4 symbols, 177 diffs, replayed
  ``--capture-loops`` times) and the 2024 BTCUSDT streams (3,449 diffs of up
  to ~36 levels against a 5,000-level snapshot).
* Order round trips against the local Binance-compatible exchange, which runs
  in its own process (``python -m genesis sandbox`` internals) so it does not
  share the client's event loop; every order is a crossing IOC that fills at
  once, alternating buy and sell:
  - ``native_rest_ms``: execute() -> the fill delivered from the REST answer
    (client -> exchange -> client);
  - ``native_stream_ms``: execute() -> the executionReport of the trade on the
    WS API user stream (client -> exchange -> user stream);
  - ``ccxt_rest_ms``: the same order through ccxt's binance class
    (``create_order``, REST answer). ccxt has no user stream without ccxt.pro.
  p50 and p99 in milliseconds, and the ratio ccxt / native for the REST leg.

Run: ``python benchmarks/venue.py [--orders 300] [--capture-loops 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genesis.core.commands import SubmitOrder  # noqa: E402
from genesis.core.enums import OrderType, Side, TimeInForce  # noqa: E402
from genesis.core.events import BookDelta, OrderFilled  # noqa: E402
from genesis.exchange.binance import (  # noqa: E402
    BinanceRest,
    BinanceUserStream,
    BinanceVenue,
    Credentials,
    UserStreamConfig,
    VenueConfig,
)
from genesis.exchange.binance.feedcore import FeedCore  # noqa: E402
from genesis.logs import configure  # noqa: E402
from genesis.resources import SPOT_CAPTURE  # noqa: E402

KEY, SECRET = "BENCHKEYloopback0123456789", "BENCHSECRETloopback0123456789"
STREAMS = ROOT / "tests" / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
D = Decimal

SERVER = """
import asyncio, json, sys
from decimal import Decimal as D
from genesis.exchange.sandbox import SandboxConfig, SandboxServer
from genesis.logs import configure
configure(level="error", stream=sys.stderr)
async def main():
    server = SandboxServer(SandboxConfig(api_key=sys.argv[1], api_secret=sys.argv[2],
        balances={"USDT": D("100000000"), "BTC": D("10000")}, replay=False,
        maker_bps=D(0), taker_bps=D(0), weight_limit=10**9, order_limit_10s=10**9,
        order_limit_1d=10**9))
    await server.start()
    server.set_book("BTCUSDT", [(D("40000"), D("100000"))], [(D("40001"), D("100000"))])
    server.flush()
    print(json.dumps({"rest_url": server.rest_url, "ws_api_url": server.ws_api_url}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()
asyncio.run(main())
"""


# --- depth ---------------------------------------------------------------------------


def _capture_frames() -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            recv_ns = int(D(str(rec["recv_ts"])) * 1_000_000_000)
            if rec["kind"] == "ws":
                out.append(("ws", json.dumps(rec["data"]), recv_ns))
            else:
                symbol = rec["path"].split("symbol=")[1].split("&")[0]
                out.append(("rest", (symbol, rec["data"]), recv_ns))
    return out


def _streams_frames() -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    with gzip.open(STREAMS, "rt", encoding="utf-8") as fh:
        for line in fh:
            recv, _, text = line.partition(" ")
            if '"lastUpdateId"' in text[:40]:
                out.append(("rest", ("BTCUSDT", json.loads(text)), int(recv)))
            elif "depthUpdate" in text:
                out.append(("ws", text.strip(), int(recv)))
    return out


def _depth_rate(
    frames: list[tuple[str, Any, int]], symbols: tuple[str, ...], loops: int
) -> dict[str, Any]:
    applied = gaps = 0
    elapsed = 0.0
    for _ in range(loops):
        core = FeedCore(symbols, ("depth@100ms", "bookTicker", "aggTrade", "kline_1m"), 1 << 24)
        core.on_connected()
        started = time.perf_counter()
        for kind, payload, recv_ns in frames:
            event = (
                core.on_text(payload, recv_ns)
                if kind == "ws"
                else core.on_snapshot(payload[0], payload[1], recv_ns)
            )
            applied += type(event) is BookDelta
        elapsed += time.perf_counter() - started
        gaps += sum(s.gaps for s in core.book_stats().values())
    return {"diffs": applied, "gaps": gaps, "per_s": round(applied / elapsed)}


# --- order round trips -------------------------------------------------------------------


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p99": round(p99, 3), "n": len(ordered)}


def _order(n: int) -> SubmitOrder:
    buy = n % 2 == 0
    return SubmitOrder(
        ts_init=0, strategy_id="bench", instrument_id="BTCUSDT", client_order_id=f"bench-{n}",
        side=Side.BUY if buy else Side.SELL, order_type=OrderType.LIMIT, quantity=D("0.001"),
        price=D("40001") if buy else D("40000"), time_in_force=TimeInForce.IOC,
    )  # fmt: skip


async def _native(urls: dict[str, str], orders: int) -> tuple[list[float], list[float]]:
    creds = Credentials(KEY, SECRET)
    rest = BinanceRest(urls["rest_url"], creds, timeout_s=5)
    sent: dict[str, float] = {}
    rest_ms: list[float] = []
    stream_ms: list[float] = []
    filled = asyncio.Event()
    streamed = asyncio.Event()

    def sink(event: Any) -> None:
        if isinstance(event, OrderFilled) and event.client_order_id in sent:
            rest_ms.append((time.perf_counter() - sent[event.client_order_id]) * 1e3)
            filled.set()

    def user_stream(venue: BinanceVenue) -> BinanceUserStream:
        def on_event(payload: Any) -> None:
            now = time.perf_counter()
            report = payload if isinstance(payload, dict) else {}
            if report.get("e") == "executionReport" and report.get("x") == "TRADE":
                cid = report.get("c", "")
                if cid in sent:
                    stream_ms.append((now - sent[cid]) * 1e3)
                    streamed.set()
            venue.on_user_event(payload)

        return BinanceUserStream(
            urls["ws_api_url"], creds, rest.clock, on_event=on_event, on_resync=venue.resync,
            has_open_orders=venue.has_open_orders, config=UserStreamConfig(),
        )  # fmt: skip

    venue = BinanceVenue(rest, user_stream_factory=user_stream, config=VenueConfig())
    await venue.start(sink)
    await asyncio.wait_for(venue._stream.subscribed_event.wait(), 10)
    try:
        for n in range(orders):
            filled.clear()
            streamed.clear()
            command = _order(n)
            sent[command.client_order_id] = time.perf_counter()
            venue.execute(command, 0)
            await asyncio.wait_for(asyncio.gather(filled.wait(), streamed.wait()), 10)
    finally:
        await venue.close()
        await rest.close()
    return rest_ms, stream_ms


async def _ccxt(urls: dict[str, str], orders: int) -> list[float]:
    import ccxt.async_support as ccxt_async

    exchange = ccxt_async.binance({
        "apiKey": KEY, "secret": SECRET, "enableRateLimit": False,
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                    "fetchMargins": False},
    })  # fmt: skip
    base = f"{urls['rest_url']}/api/v3"
    exchange.urls["api"] = {**exchange.urls["api"], "public": base, "private": base}
    times: list[float] = []
    try:
        await exchange.load_markets()
        for n in range(orders):
            buy = n % 2 == 0
            started = time.perf_counter()
            await exchange.create_order(
                "BTC/USDT",
                "limit",
                "buy" if buy else "sell",
                0.001,
                40001 if buy else 40000,
                {"timeInForce": "IOC", "newClientOrderId": f"ccxt-{n}"},
            )
            times.append((time.perf_counter() - started) * 1e3)
    finally:
        await exchange.close()
    return times


def main() -> None:
    configure(level="error", stream=sys.stderr)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--capture-loops", type=int, default=200)
    args = parser.parse_args()

    capture = _depth_rate(
        _capture_frames(), ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"), args.capture_loops
    )
    streams = _depth_rate(_streams_frames(), ("BTCUSDT",), 3)

    env = {**os.environ, "GENESIS_LOG_LEVEL": "warning"}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, KEY, SECRET], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        rest_ms, stream_ms = asyncio.run(_native(urls, args.orders))
        ccxt_ms = asyncio.run(_ccxt(urls, args.orders))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    native_rest, ccxt_rest = _percentiles(rest_ms), _percentiles(ccxt_ms)
    print(json.dumps({
        "benchmark": "venue",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "depth_updates_per_s": {"spot_capture_2021": capture, "btcusdt_streams_2024": streams},
        "native_rest_ms": native_rest,
        "native_stream_ms": _percentiles(stream_ms),
        "ccxt_rest_ms": ccxt_rest,
        "ccxt_over_native_rest_p50": round(ccxt_rest["p50"] / native_rest["p50"], 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
