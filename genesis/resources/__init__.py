"""Bundled real market data and venue metadata (see PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BTCUSDT_1M_BARS", "EXCHANGE_INFO", "RESOURCES", "SPOT_CAPTURE"]

RESOURCES = Path(__file__).resolve().parent
EXCHANGE_INFO = RESOURCES / "exchange-info-2021-10-12.json.gz"
BTCUSDT_1M_BARS = RESOURCES / "btcusdt-perp-1m-2022-01.csv.gz"
SPOT_CAPTURE = RESOURCES / "spot-capture-2021-10-12.jsonl.gz"
