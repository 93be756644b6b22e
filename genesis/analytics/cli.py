"""``python -m genesis analyze <what>``: market analysis from files, printed or as JSON.

Each analysis lives in its own module and contributes its verb through two
functions, ``add_arguments(parser)`` and ``run(args) -> int``:

* ``analyze triangles`` (``genesis.analytics.triangles``): a venue's currency
  triangles from its exchangeInfo, and with a capture the opportunities found
  per book update;
* ``analyze pairs`` (``genesis.analytics.cointegration``): Engle-Granger and
  Johansen on two bar files aligned by timestamp.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["add_parser", "run"]

# verb -> (module, one-line help)
_VERBS = {
    "triangles": ("genesis.analytics.triangles", "triangular arbitrage over a venue's symbols"),
    "pairs": ("genesis.analytics.cointegration", "cointegration of two price series"),
}


def add_parser(sub: Any) -> None:
    """Register ``analyze`` with one sub-command per analysis."""
    parser = sub.add_parser("analyze", help="market analysis: triangles, pairs")
    verbs = parser.add_subparsers(dest="analysis", required=True, parser_class=type(parser))
    for verb, (module, text) in _VERBS.items():
        child = verbs.add_parser(verb, help=text, description=text)
        importlib.import_module(module).add_arguments(child)


def run(args: argparse.Namespace) -> int:
    module, _ = _VERBS[args.analysis]
    code: int = importlib.import_module(module).run(args)
    return code
