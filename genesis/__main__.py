"""Command line: ``python -m genesis <command>``.

Bad input (a ``GenesisError``) prints one line to stderr and exits 2; no
traceback. Set ``GENESIS_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from genesis.backtesting import cli as backtest_cli
from genesis.config import cli as config_cli
from genesis.engine import cli as daemon_cli
from genesis.errors import GenesisError

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genesis", description="Genesis algorithmic trading system")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    backtest_cli.add_parser(sub)
    daemon_cli.add_parser(sub)
    config_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]  # a bare `python -m genesis --tier sniper` runs the daemon
    args = build_parser().parse_args(argv)
    try:
        if args.command == "backtest":
            return backtest_cli.run(args)
        if args.command == "run":
            return daemon_cli.run(args)
        if args.command == "config":
            return config_cli.run(args)
    except GenesisError as exc:
        print(f"genesis {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"genesis {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("GENESIS_DEBUG"):
            raise
        print(
            f"genesis {args.command}: internal error: {type(exc).__name__}: {exc}"
            " (set GENESIS_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
