"""Every command line option says what it does and shows its default (``--help``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from genesis.__main__ import build_parser


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
