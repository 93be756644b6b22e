"""Command line: ``python -m genesis <command>``.

Bad input (a ``GenesisError``) prints one line to stderr and exits 2; no
traceback. Set ``GENESIS_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# One BLAS thread before numpy loads: the kernel is single-threaded, its regressions are
# small (pairs statistics), and a BLAS thread pool only fights the event loop for cores
# (a pairs backtest took 15.9 s with the default pool, 4.2 s with one thread, on 2 cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from genesis import __version__, gcpolicy, native
from genesis.errors import GenesisError

__all__ = ["main"]

_TOP_LEVEL_OPTIONS = ("-h", "--help", "-V", "--version")  # the rest go to `run`
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` unless the help text already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Exits 2 on a usage error; every option's help ends with its default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# Each module registers its sub-command(s) with ``add_parser(sub)`` and runs them
# with ``run(args) -> int``; ``COMMANDS`` maps a sub-command to its module.
_CLI_MODULES = (
    "genesis.backtesting.cli",
    "genesis.backtesting.montecarlo_cli",
    "genesis.backtesting.optimize_cli",
    "genesis.backtesting.walkforward_cli",
    "genesis.backtesting.report_cli",
    "genesis.daemon.cli",
    "genesis.config.cli",
    "genesis.compliance.cli",
    "genesis.secrets_cli",
    "genesis.daemon.control",
    "genesis.paper.cli",
    "genesis.daemon.journal_export",
    "genesis.exchange.sandbox.cli",
    "genesis.exchange.oanda_sandbox.cli",
    "genesis.data.cli",
    "genesis.data.download_cli",
    "genesis.analytics.cli",
    "genesis.strategies.cli",
    "genesis.native",
    "genesis.api.healthcheck",
)

# The module of each sub-command, so that ``genesis backtest ...`` imports the backtest's
# module only: importing every command's module (the daemon, aiohttp, the API, the
# sandbox) took ~0.6 s of a ~1.2 s reference backtest. ``--help`` and anything not
# listed here still build the full parser; tests/unit/test_cli_help.py checks this
# table against what the modules register.
COMMANDS: dict[str, str] = {
    "backtest": "genesis.backtesting.cli",
    "montecarlo": "genesis.backtesting.montecarlo_cli",
    "optimize": "genesis.backtesting.optimize_cli",
    "walkforward": "genesis.backtesting.walkforward_cli",
    "report": "genesis.backtesting.report_cli",
    "run": "genesis.daemon.cli",
    "config": "genesis.config.cli",
    "audit": "genesis.compliance.cli",
    "compliance-report": "genesis.compliance.cli",
    "secrets": "genesis.secrets_cli",
    "kill": "genesis.daemon.control",
    "reset": "genesis.daemon.control",
    "status": "genesis.daemon.control",
    "promotion": "genesis.paper.cli",
    "ab": "genesis.paper.cli",
    "journal": "genesis.daemon.journal_export",
    "sandbox": "genesis.exchange.sandbox.cli",
    "oanda-sandbox": "genesis.exchange.oanda_sandbox.cli",
    "record": "genesis.data.cli",
    "capture": "genesis.data.cli",
    "download": "genesis.data.download_cli",
    "analyze": "genesis.analytics.cli",
    "strategies": "genesis.strategies.cli",
    "native": "genesis.native",
    "healthcheck": "genesis.api.healthcheck",
}


def _cli_modules(names: Sequence[str] = _CLI_MODULES) -> list[ModuleType]:
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a missing dependency inside the module: a real error
    return modules


def _version_line() -> str:
    """The version and whether the hot modules run compiled (``genesis native``)."""
    return f"genesis {__version__} ({native.state()})"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line parser: every sub-command, or only ``command``'s module's (the
    parser a run of that command needs, without importing the others)."""
    parser = _Parser(prog="genesis", description="Genesis algorithmic trading system")
    parser.add_argument("-V", "--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    names = (COMMANDS[command],) if command in COMMANDS else _CLI_MODULES
    for module in _cli_modules(names):
        before = set(sub.choices)
        module.add_parser(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None, *, process: bool = False) -> int:
    """Parse ``argv`` and run the command; return the exit code. ``process``: this is the
    process's own command (``python -m genesis``, the ``genesis`` script), which sets the
    process-wide collector policy (``genesis.gcpolicy``); a caller in a process of its own
    making (tests, an embedding program) keeps its policy."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-V"], ["--version"]):  # before argparse, which would wrap the line
        print(_version_line())
        return 0
    if not argv or (argv[0].startswith("-") and argv[0] not in _TOP_LEVEL_OPTIONS):
        argv = ["run", *argv]  # a bare `python -m genesis --tier sniper` runs the daemon
    args = build_parser(argv[0]).parse_args(argv)
    if process:
        gcpolicy.apply()  # after the imports: what is loaded now lives as long as the process
    try:
        code: int = args._run(args)
        return code
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


def entry() -> int:
    """The ``genesis`` script and ``python -m genesis``."""
    return main(process=True)


if __name__ == "__main__":
    sys.exit(entry())
