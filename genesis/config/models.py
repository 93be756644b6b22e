"""``StrategyConfig``: one strategy instance as written in ``config/strategies/<id>.yaml``."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genesis.core.instruments import instrument_id, split_instrument_id
from genesis.paper.criteria import PromotionCriteria
from genesis.risk.limits import Tier

__all__ = ["StrategyConfig"]

# OANDA names its instruments BASE_QUOTE (oanda:GBP_USD, oanda:SPX500_USD)
_INSTRUMENT = re.compile(r"(?:[a-z0-9_-]+:)?[A-Z0-9]+(?:_[A-Z0-9]+)*")


class StrategyConfig(BaseModel):
    """Which strategy class, its tier, instruments, on/off, and its parameters.

    ``params`` is checked again by the strategy's own parameter model when the
    file is loaded; here it is only a mapping.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: str = Field(min_length=1)
    tier: Tier
    instruments: tuple[str, ...] = Field(min_length=1)
    enabled: bool = True
    requires_stop_loss: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    # ST-H4: trade only while the instrument's regime is one of these (empty: always)
    regimes: tuple[str, ...] = ()
    # PT-2: when this strategy may be proposed for live, and its capital steps (None: never)
    promotion: PromotionCriteria | None = None

    @field_validator("instruments")
    @classmethod
    def _symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """``SYMBOL`` or ``venue:SYMBOL``, kept as the kernel's instrument ids (a bare
        symbol is on the default venue: ``binance:ETHUSDT`` is ``ETHUSDT``)."""
        bad = [s for s in value if not _INSTRUMENT.fullmatch(s)]
        if bad:
            raise ValueError(
                "instruments are SYMBOL or venue:SYMBOL (symbol: upper-case letters and digits,"
                " parts joined by _ as in oanda:GBP_USD;"
                f" venue: lower-case letters, digits, _ or -), was {bad}"
            )
        ids = tuple(instrument_id(*split_instrument_id(s)) for s in value)
        if len(set(ids)) != len(ids):
            raise ValueError(f"instruments repeat a symbol: {list(value)}")
        return ids

    @field_validator("regimes")
    @classmethod
    def _regimes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = ("trending", "ranging", "volatile")
        bad = [r for r in value if r not in known]
        if bad:
            raise ValueError(f"regimes are {', '.join(known)}; was {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"regimes repeat one: {list(value)}")
        return value

    def version_id(self) -> str:
        """SHA-256 of the canonical JSON of this configuration (key order and spacing fixed;
        an empty ``regimes`` and an absent ``promotion`` are left out, so configs written
        before them keep their hash)."""
        left_out = {k for k in ("regimes", "promotion") if not getattr(self, k)}
        dumped = self.model_dump(mode="json", exclude=left_out or None)
        canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
