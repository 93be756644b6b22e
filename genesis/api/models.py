"""Request bodies of the control API: pydantic models, so validation and the OpenAPI
schemas come from one definition (``openapi.py`` reads ``model_json_schema()``).

Money fields are ``Decimal`` (JSON strings or numbers; NaN and infinities refused);
the order factory then quantizes them to the instrument's increments.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ClosePositionRequest",
    "ModifyRequest",
    "OrderRequest",
    "ParamsRequest",
    "RollbackRequest",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class OrderRequest(BaseModel):
    """A manual order; the same risk checks as any strategy's order apply."""

    model_config = _STRICT

    instrument_id: str = Field(min_length=1, max_length=64, description="e.g. BTCUSDT")
    side: Literal["BUY", "SELL"]
    type: Literal["MARKET", "LIMIT"] = "LIMIT"
    quantity: Decimal = Field(gt=0, allow_inf_nan=False, max_digits=30)
    price: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, max_digits=30)
    strategy_id: str = Field(default="operator", min_length=1, max_length=64)
    stop_loss: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, max_digits=30)
    take_profit: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, max_digits=30)
    confidence: float | None = Field(default=None, ge=0, le=1)


class ModifyRequest(BaseModel):
    """A new price and/or quantity for a working order."""

    model_config = _STRICT

    price: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, max_digits=30)
    quantity: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, max_digits=30)


class ClosePositionRequest(BaseModel):
    """Close one strategy's position in one instrument at market (reduce-only)."""

    model_config = _STRICT

    instrument_id: str = Field(min_length=1, max_length=64)
    strategy_id: str = Field(default="operator", min_length=1, max_length=64)


class ParamsRequest(BaseModel):
    """A strategy's new parameters, validated by the strategy's own model."""

    model_config = _STRICT

    params: dict[str, Any]


class RollbackRequest(BaseModel):
    """Run a stored version of a strategy's configuration again (its parameters)."""

    model_config = _STRICT

    strategy_id: str = Field(min_length=1, max_length=64)
    sha256: str = Field(min_length=6, max_length=64, pattern="^[0-9a-f]+$")
