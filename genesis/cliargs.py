"""Argument types shared by the command lines: a bad value is one ``argparse`` line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from genesis.exchange.fills import parse_venue_fee

__all__ = ["add_venue_fee_arg", "decimal_arg", "venue_fee_arg"]


def decimal_arg(flag: str, positive: bool = False) -> Callable[[str], Decimal]:
    """A finite Decimal >= 0 (> 0 with ``positive``); the error names ``flag`` and the text."""

    def parse(text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise argparse.ArgumentTypeError(f"{flag}: expected a number, was {text!r}") from None
        if not value.is_finite() or value < 0 or (positive and value == 0):
            bound = "> 0" if positive else ">= 0"
            raise argparse.ArgumentTypeError(
                f"{flag}: expected a finite number {bound}, was {text!r}"
            )
        return value

    return parse


def venue_fee_arg(text: str) -> tuple[str, Decimal]:
    """``VENUE=BPS`` as (venue, bps): ``exchange.fills.parse_venue_fee`` for argparse."""
    try:
        return parse_venue_fee(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_venue_fee_arg(parser: argparse.ArgumentParser, when: str) -> None:
    """``--venue-fee-bps VENUE=BPS`` (repeatable) into ``args.venue_fee_bps``, a list of pairs;
    ``when`` says when it applies ("several venues", "paper on several venues")."""
    parser.add_argument(
        "--venue-fee-bps",
        type=venue_fee_arg,
        action="append",
        default=[],
        metavar="VENUE=BPS",
        help=f"{when}: that venue's fee in bps (maker and taker), e.g. bybit=10; repeat per"
        " venue; the others pay --fee-bps",
    )
