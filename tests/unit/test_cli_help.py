"""Every command line option says what it does and shows its default (``--help``)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

from genesis.__main__ import COMMANDS, build_parser


def _parsers(
    parser: argparse.ArgumentParser, path: str = "genesis"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [
        "/".join(a.option_strings) or a.dest
        for a in parser._actions
        if not isinstance(a, skip) and (not a.help or a.help == argparse.SUPPRESS)
    ]


def test_every_option_of_every_command_has_help() -> None:
    missing = {path: names for path, p in _parsers(build_parser()) if (names := _undocumented(p))}
    assert missing == {}


def test_every_help_page_renders_with_defaults_shown() -> None:
    pages = 0
    for path, parser in _parsers(build_parser()):
        assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter), path
        parser.format_help()  # a stray % in a help text raises here
        pages += 1
    assert pages >= 12
    backtest = dict(_parsers(build_parser()))["genesis backtest"].format_help()
    assert "starting balance in the quote currency (default: 1000000)" in " ".join(backtest.split())


def _commands(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each top-level sub-command and the module whose ``run`` it calls."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: child.get_default("_run").__module__ for name, child in sub.choices.items()}


def test_the_command_table_names_the_module_each_command_registers_from() -> None:
    """``COMMANDS`` (what a run imports) is exactly what the full parser registers."""
    assert _commands(build_parser()) == COMMANDS


def test_a_command_parser_has_only_its_command() -> None:
    """``build_parser("backtest")`` has the backtest's options and no other command."""
    parser = build_parser("backtest")
    assert list(_commands(parser)) == ["backtest"]
    args = parser.parse_args(["backtest", "--strategy", "sma_cross", "--cash", "5"])
    assert (args.command, args.strategy, str(args.cash)) == ("backtest", "sma_cross", "5")


def test_a_backtest_does_not_import_the_daemon_or_the_api() -> None:
    """A fresh interpreter building the backtest's parser loads no other command's module."""
    code = (
        "import sys; from genesis.__main__ import build_parser; build_parser('backtest');"
        " print(sorted(m for m in ('genesis.daemon.daemon', 'genesis.api.server', 'aiohttp',"
        " 'genesis.exchange.sandbox.server', 'genesis.backtesting.cli') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['genesis.backtesting.cli']"]
