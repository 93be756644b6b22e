"""``python -m genesis record`` and ``python -m genesis capture check``.

* ``record --symbols BTCUSDT,ETHUSDT --out FILE.jsonl.gz``: record Binance's
  public streams and depth snapshots (``genesis.data.recorder``); ends with
  one JSON summary line on stdout (logs are JSON lines on stderr).
  SIGINT/SIGTERM stop it cleanly.
* ``capture check FILE``: replay a capture through the §10 book procedure
  (``genesis.data.capture_check``); one JSON line per symbol on stdout,
  unreadable lines and a truncated tail as ``file:line`` on stderr. Exit 0
  when every symbol is valid, 1 when one is not, 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import IO, Any

from genesis.data.capture_check import check_capture
from genesis.data.recorder import (
    DEFAULT_REST_URL,
    DEFAULT_STREAMS,
    DEFAULT_WS_URL,
    Recorder,
    RecorderConfig,
    RecorderSummary,
    reconnect_backoff,
)
from genesis.errors import ConfigError
from genesis.logs import configure as configure_logging

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``record`` and ``capture`` (verb ``check``)."""
    r = sub.add_parser("record", help="record live public market data to a capture file")
    r.add_argument(
        "--symbols", required=True, type=_symbols, help="comma-separated, e.g. BTCUSDT,ETHUSDT"
    )
    r.add_argument("--out", required=True, type=Path, help="capture file (.jsonl or .jsonl.gz)")
    r.add_argument(
        "--streams",
        type=_names,
        default=DEFAULT_STREAMS,
        help="per-symbol streams (default depth@100ms,bookTicker,trade; "
        "also aggTrade, kline_1m, ...)",
    )
    r.add_argument("--depth-limit", type=int, default=1000, help="levels per snapshot (1..5000)")
    r.add_argument("--rest-url", default=DEFAULT_REST_URL, help="Binance REST base URL")
    r.add_argument("--ws-url", default=DEFAULT_WS_URL, help="Binance WebSocket base URL")
    r.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C or --max-messages)",
    )  # fmt: skip
    r.add_argument(
        "--max-messages", type=int, default=None, metavar="N",
        help="stop after this many stream messages",
    )  # fmt: skip
    r.add_argument(
        "--flush-interval", type=float, default=1.0, metavar="SECONDS",
        help="how often the capture file is flushed to disk",
    )  # fmt: skip
    r.add_argument(
        "--reconnect-base",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="first reconnect delay; doubles up to --reconnect-cap, jittered",
    )
    r.add_argument(
        "--reconnect-cap", type=float, default=30.0, metavar="SECONDS",
        help="longest reconnect delay",
    )  # fmt: skip
    r.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="JSON log lines go to stderr; stdout carries only the summary",
    )
    c = sub.add_parser("capture", help="inspect capture files")
    verbs = c.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="replay a capture through the book procedure")
    check.add_argument("file", type=Path, help="capture file (.jsonl or .jsonl.gz)")


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Execute ``record`` or ``capture check``; return the exit code (bad input raises).

    ``out``/``err`` default to the *current* ``sys.stdout``/``sys.stderr``.
    """
    out = out or sys.stdout
    if args.command == "record":
        return _record(args, out)
    return _check(args.file, out, err or sys.stderr)


def _check(path: Path, out: IO[str], err: IO[str]) -> int:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    report = check_capture(path)
    for symbol in report.symbols:
        out.write(symbol.to_json() + "\n")
    for error in report.errors:
        err.write(f"genesis capture: error: {error}\n")
    if report.truncated:
        err.write(f"genesis capture: warning: {report.truncated}; lines before it were checked\n")
    return report.exit_code


def _record(args: argparse.Namespace, out: IO[str]) -> int:
    config = RecorderConfig(
        symbols=args.symbols,
        out=args.out,
        rest_url=args.rest_url,
        ws_url=args.ws_url,
        streams=args.streams,
        depth_limit=args.depth_limit,
        duration_s=args.duration,
        max_messages=args.max_messages,
        flush_interval_s=args.flush_interval,
        backoff=reconnect_backoff(args.reconnect_base, args.reconnect_cap),
    )
    configure_logging(level=args.log_level, stream=sys.stderr)
    summary = asyncio.run(_record_until_signal(config))
    out.write(json.dumps(summary.as_dict()) + "\n")
    return 0


async def _record_until_signal(config: RecorderConfig) -> RecorderSummary:
    recorder = Recorder(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, recorder.stop)
    try:
        return await recorder.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}; expected a comma-separated list")
    return names


def _symbols(text: str) -> tuple[str, ...]:
    symbols = tuple(s.upper() for s in _names(text))
    bad = [s for s in symbols if not s.isalnum()]
    if bad:
        raise argparse.ArgumentTypeError(f"symbols {bad!r}; expected names like BTCUSDT")
    return symbols
