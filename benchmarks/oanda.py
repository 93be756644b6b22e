"""OANDA benchmark: market-order round trips through the clients and the local v20 server.

The server (``python -m genesis oanda-sandbox --speed 0``) runs in its own
process so it does not share the client's event loop; its rate limit is lifted
(``--rate-limit 100000``) because v20's client has none of its own and back-to-back
orders exceed OANDA's 100 requests/s. Every order is a
market order of 1,000 GBP_USD units that fills at once on the bundled quote,
alternating buy and sell so the account stays flat:

* ``native_rest_ms``: ``OandaClient.create_order`` -> the 201 answer with its fill;
* ``venue_fill_ms``: ``OandaVenue.execute`` -> the ``OrderFilled`` at the sink
  (what the daemon sees: body built, request, answer parsed, event made);
* ``v20_rest_ms``: the same order through OANDA's own ``v20`` client (requests),
  if installed.

p50 / p95 / p99 in milliseconds; the target is a market-order p95 under
100 ms end to end (``target_met``).

Run: ``python benchmarks/oanda.py [--orders 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genesis.core.commands import SubmitOrder  # noqa: E402
from genesis.core.enums import OrderType, Side  # noqa: E402
from genesis.core.events import OrderEvent, OrderFilled  # noqa: E402
from genesis.exchange.oanda import OandaClient, OrderTerms, order_request  # noqa: E402
from genesis.exchange.oanda.venue import OandaVenue  # noqa: E402
from genesis.logs import configure  # noqa: E402

TOKEN = "bench-token-loopback-oanda"


def _quantiles(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, int(p * len(s)))] / 1e6, 3)

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "n": len(s)}


async def _native(url: str, n: int) -> list[int]:
    out = []
    async with OandaClient(url, TOKEN, rate=10_000) as client:
        await client.use_first_account()
        inst = (await client.load_instruments())["GBP_USD"]
        for i in range(n):
            units = Decimal(1000 if i % 2 == 0 else -1000)
            body = order_request(OrderTerms(type="MARKET", instrument="GBP_USD", units=units), inst)
            t0 = time.perf_counter_ns()
            answer = await client.create_order(body)
            out.append(time.perf_counter_ns() - t0)
            if "orderFillTransaction" not in answer:
                raise SystemExit(f"order {i} did not fill: {answer}")
    return out


async def _venue(url: str, n: int) -> list[int]:
    filled = asyncio.Event()

    def sink(event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            filled.set()

    venue = OandaVenue(OandaClient(url, TOKEN, rate=10_000))
    await venue.start(sink)
    out = []
    try:
        for i in range(n):
            filled.clear()
            cmd = SubmitOrder(
                ts_init=i, strategy_id="bench", instrument_id="OANDA:GBP_USD",
                client_order_id=f"bench-{i}", side=Side.BUY if i % 2 == 0 else Side.SELL,
                order_type=OrderType.MARKET, quantity=Decimal(1000),
            )  # fmt: skip
            t0 = time.perf_counter_ns()
            venue.execute(cmd, i)
            await asyncio.wait_for(filled.wait(), 10)
            out.append(time.perf_counter_ns() - t0)
    finally:
        await venue.close()
    return out


def _v20(url: str, n: int) -> list[int] | None:
    try:
        import v20
    except ImportError:
        return None
    host, port = url.removeprefix("http://").rsplit(":", 1)
    ctx = v20.Context(host, int(port), ssl=False, token=TOKEN)
    account = ctx.account.list().get("accounts", 200)[0].id
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        resp = ctx.order.market(account, instrument="GBP_USD", units=1000 if i % 2 == 0 else -1000)
        out.append(time.perf_counter_ns() - t0)
        resp.get("orderFillTransaction", 201)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    configure(stream=sys.stderr, level="WARNING")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "genesis", "oanda-sandbox", "--port", "0", "--speed", "0",
         "--token", TOKEN, "--balance", "10000000", "--rate-limit", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = json.loads(server.stdout.readline())["rest_url"]
        result: dict[str, Any] = {"bench": "oanda", "orders": args.orders}
        native = _quantiles(asyncio.run(_native(url, args.orders)))
        venue = _quantiles(asyncio.run(_venue(url, args.orders)))
        v20_samples = _v20(url, args.orders)
        result["native_rest_ms"] = native
        result["venue_fill_ms"] = venue
        result["v20_rest_ms"] = _quantiles(v20_samples) if v20_samples else None
        result["target_p95_ms"] = 100
        result["target_met"] = venue["p95"] < 100 and native["p95"] < 100
        result["python"] = platform.python_version()
        result["native_modules"] = os.environ.get("GENESIS_NATIVE", "auto")
        print(json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
