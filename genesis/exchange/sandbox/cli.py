"""``python -m genesis sandbox``: serve the loopback test exchange until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from genesis.errors import ConfigError
from genesis.exchange.sandbox.config import LOOPBACK_HOSTS, SandboxConfig
from genesis.logs import configure

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sandbox",
        help="serve the local Binance-compatible test exchange",
        description="Serve the loopback Binance-compatible test exchange.",
    )
    p.add_argument("--host", default="127.0.0.1", help="loopback only (127.0.0.1, ::1)")
    p.add_argument("--port", type=int, default=0, help="REST and WebSocket port (0: a free one)")
    p.add_argument(
        "--control-port", type=int, default=0, help="fault-injection control port (0: a free one)"
    )
    p.add_argument("--api-key", default="canary-key-sandbox", help="the API key clients send")
    p.add_argument(
        "--api-secret", default="canary-secret-sandbox", help="the secret requests are signed with"
    )
    p.add_argument("--balances", default="USDT=10000,BTC=1", help="ASSET=AMOUNT,...")
    p.add_argument("--capture", type=Path, default=None, help="spot capture JSONL(.gz)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed (0: manual)")
    p.add_argument("--seed", type=int, default=0, help="seed of the injected faults")
    p.add_argument(
        "--legacy-listen-key", action="store_true",
        help="also serve the legacy userDataStream listenKey endpoints",
    )  # fmt: skip
    p.add_argument(
        "--weight-limit", type=int, default=None,
        help="request weight per minute per IP (default: exchangeInfo's, 1200 in 2021;"
        " Binance allows 6000 today)",
    )  # fmt: skip


def parse_balances(text: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        asset, sep, amount = item.partition("=")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal("NaN")
        if not sep or not asset or not value.is_finite() or value < 0:
            raise ConfigError(f"--balances item {item!r}: expected ASSET=AMOUNT (amount >= 0)")
        out[asset.upper()] = value
    return out


def run(args: argparse.Namespace) -> int:
    if args.host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"--host {args.host!r} refused: the sandbox binds to loopback only "
            "(127.0.0.1, ::1, localhost)"
        )
    if args.capture is not None and not args.capture.is_file():
        raise ConfigError(f"--capture {args.capture}: no such file")
    config = SandboxConfig(
        api_key=args.api_key,
        api_secret=args.api_secret,
        balances=parse_balances(args.balances),
        capture=args.capture,
        replay_speed=args.speed,
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        seed=args.seed,
        legacy_listen_key=args.legacy_listen_key,
        weight_limit=args.weight_limit,
    )
    # stdout carries only the one JSON line of URLs; logs go to stderr, secrets masked
    configure(stream=sys.stderr, secrets=[args.api_key, args.api_secret])
    asyncio.run(_serve(config))
    return 0


async def _serve(config: SandboxConfig) -> None:
    from genesis.exchange.sandbox.server import SandboxServer

    server = SandboxServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(
        json.dumps(
            {
                "rest_url": server.rest_url,
                "ws_url": server.ws_url,
                "ws_api_url": server.ws_api_url,
                "control_url": server.control_url,
            }
        )
        + "\n"
    )
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.stop()
