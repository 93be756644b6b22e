"""``python -m genesis oanda-sandbox``: serve the loopback OANDA v20 server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.errors import ConfigError
from genesis.exchange.sandbox.config import LOOPBACK_HOSTS
from genesis.logs import configure

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "oanda-sandbox",
        help="serve the local OANDA v20-compatible test server",
        description="Serve the loopback OANDA v20 server over the bundled GBP/USD quotes.",
    )
    p.add_argument("--host", default="127.0.0.1", help="loopback only (127.0.0.1, ::1)")
    p.add_argument("--port", type=int, default=0, help="REST and stream port (0: a free one)")
    p.add_argument(
        "--token", default="canary-token-oanda-sandbox", help="the bearer token clients send"
    )
    p.add_argument(
        "--control-port", type=int, default=0, help="fault/replay control port (0: a free one)"
    )
    p.add_argument("--balance", default="100000", help="the account's opening balance (USD)")
    p.add_argument(
        "--speed", type=float, default=1.0, help="quotes (minutes) per second; 0: frozen"
    )
    p.add_argument("--heartbeat", type=float, default=5.0, help="stream heartbeat interval (s)")
    p.add_argument(
        "--rate-limit", type=int, default=100, help="REST requests per second (OANDA: 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the injected faults")


def run(args: argparse.Namespace) -> int:
    from genesis.exchange.oanda_sandbox.server import OandaSandboxConfig

    if args.host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"--host {args.host!r} refused: the OANDA sandbox binds to loopback only "
            "(127.0.0.1, ::1, localhost)"
        )
    try:
        balance = Decimal(args.balance)
    except InvalidOperation:
        balance = Decimal("NaN")
    if not balance.is_finite() or balance < 0:
        raise ConfigError(f"--balance {args.balance!r}: expected a number >= 0")
    if args.speed < 0 or args.heartbeat <= 0 or args.rate_limit <= 0:
        raise ConfigError("--speed must be >= 0, --heartbeat and --rate-limit > 0")
    config = OandaSandboxConfig(
        token=args.token,
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        balance=balance,
        replay_speed=args.speed,
        heartbeat_s=args.heartbeat,
        rate_limit=args.rate_limit,
        seed=args.seed,
    )
    configure(stream=sys.stderr, secrets=[args.token])
    asyncio.run(_serve(config))
    return 0


async def _serve(config: Any) -> None:
    from genesis.exchange.oanda_sandbox.account import ACCOUNT_ID
    from genesis.exchange.oanda_sandbox.server import OandaSandboxServer

    server = OandaSandboxServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # stdout carries only the one JSON line; the token is not echoed
    line = {
        "rest_url": server.url,
        "stream_url": server.url,
        "control_url": server.control_url,
        "account_id": ACCOUNT_ID,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.stop()
