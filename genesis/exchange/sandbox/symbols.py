"""Symbols and filters as the real ``exchangeInfo`` file states them, plus wire formatting."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.core.instruments import Instrument, instrument_from_binance
from genesis.resources import EXCHANGE_INFO

__all__ = ["ExchangeInfo", "SymbolSpec", "fmt", "load_exchange_info_raw"]

_EIGHT = Decimal("0.00000001")


def fmt(value: Decimal) -> str:
    """A Binance decimal string: padded to 8 places, never exponent notation.

    A value needing more than 8 places (a 0.1% fee on a tiny notional) keeps all
    its digits: the ledger is exact and the wire must agree with it.
    """
    if value == value.quantize(_EIGHT):
        return format(value.quantize(_EIGHT), "f")
    return format(value.normalize(), "f")


@dataclass(slots=True)
class SymbolSpec:
    """One ``symbols[]`` entry: the raw JSON (served as is) and its parsed filters."""

    raw: dict[str, Any]
    filters: dict[str, Mapping[str, Any]] = field(init=False)
    _instrument: Instrument | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.filters = {f["filterType"]: f for f in self.raw.get("filters", ())}

    @property
    def symbol(self) -> str:
        return str(self.raw["symbol"])

    @property
    def base(self) -> str:
        return str(self.raw["baseAsset"])

    @property
    def quote(self) -> str:
        return str(self.raw["quoteAsset"])

    @property
    def status(self) -> str:
        return str(self.raw.get("status", "TRADING"))

    @property
    def order_types(self) -> list[str]:
        return list(self.raw.get("orderTypes", ()))

    @property
    def base_precision(self) -> int:
        return int(self.raw.get("baseAssetPrecision", 8))

    @property
    def quote_precision(self) -> int:
        return int(self.raw.get("quoteAssetPrecision", self.raw.get("quotePrecision", 8)))

    def instrument(self) -> Instrument:
        if self._instrument is None:
            self._instrument = instrument_from_binance(self.raw)
        return self._instrument


def load_exchange_info_raw(path: Path | None) -> dict[str, Any]:
    path = path or EXCHANGE_INFO
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


class ExchangeInfo:
    """The symbol table and rate limits of one exchangeInfo file."""

    def __init__(self, path: Path | None = None) -> None:
        data = load_exchange_info_raw(path)
        self.rate_limits: list[dict[str, Any]] = list(data.get("rateLimits", ()))
        self.exchange_filters: list[Any] = list(data.get("exchangeFilters", ()))
        self.symbols: dict[str, SymbolSpec] = {
            raw["symbol"]: SymbolSpec(raw) for raw in data["symbols"]
        }

    def get(self, symbol: str) -> SymbolSpec | None:
        return self.symbols.get(symbol)

    def limit(self, kind: str, interval: str, num: int) -> int | None:
        for entry in self.rate_limits:
            if (entry.get("rateLimitType"), entry.get("interval"), entry.get("intervalNum")) == (
                kind,
                interval,
                num,
            ):
                return int(entry["limit"])
        return None
