"""The risk configuration file (``config/risk.yaml``, ``GENESIS_RISK_CONFIG``): per-tier
limits, circuit breakers and the measures' sampling (SPEC RK-1, RK-3, RK-4).

Every key is optional: a tier, a field or a whole section left out keeps the
default of ``genesis.risk.limits`` (the file shipped in ``config/risk.yaml``
spells every default out). The models are frozen and refuse unknown keys; a bad
file raises ``ConfigError`` naming the file, the line, the field, the value and
the reason, and the daemon and the backtest refuse to start with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genesis.errors import ConfigError
from genesis.risk.limits import TIER_LIMITS, BreakerLimits, MeasureSettings, Tier, TierLimits
from genesis.yamlkeys import key_lines

__all__ = ["RiskConfig", "load_risk_config", "parse_risk_config"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class BreakerModel(BaseModel):
    """``tiers.<tier>.breakers``: see ``BreakerLimits``; 0 switches a breaker off."""

    model_config = _STRICT
    loss_streak: int | None = Field(default=None, ge=0, le=1000)
    loss_streak_odds: float | None = Field(default=None, gt=0, le=1)
    loss_streak_cooldown_s: int | None = Field(default=None, ge=1)
    drawdown_velocity_pct: Decimal | None = Field(default=None, ge=0, lt=1)
    drawdown_window_s: int | None = Field(default=None, ge=1)
    drawdown_cooldown_s: int | None = Field(default=None, ge=1)
    max_orders: int | None = Field(default=None, ge=0)
    order_window_s: int | None = Field(default=None, ge=1)
    order_cooldown_s: int | None = Field(default=None, ge=1)
    max_rejections: int | None = Field(default=None, ge=0)
    rejection_window_s: int | None = Field(default=None, ge=1)
    rejection_cooldown_s: int | None = Field(default=None, ge=1)


class TierModel(BaseModel):
    """``tiers.<tier>``: see ``TierLimits``."""

    model_config = _STRICT
    max_position_pct: Decimal | None = Field(default=None, gt=0, le=1)
    max_daily_loss_pct: Decimal | None = Field(default=None, gt=0, lt=1)
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    max_open_positions: int | None = Field(default=None, ge=1)
    max_leverage: Decimal | None = Field(default=None, gt=0, le=100)
    max_slippage_pct: Decimal | None = Field(default=None, gt=0, lt=1)
    max_correlation: float | None = Field(default=None, gt=0, le=1)
    min_correlation_samples: int | None = Field(default=None, ge=3)
    breakers: BreakerModel = BreakerModel()


class MeasureModel(BaseModel):
    """``measures``: see ``MeasureSettings``."""

    model_config = _STRICT
    sample_interval_s: int = Field(default=60, ge=1, le=86_400)
    max_samples: int = Field(default=1440, ge=10, le=100_000)
    benchmark: str = ""


class RiskConfig(BaseModel):
    """The whole file: ``tiers`` (sniper, hunter, strategist) and ``measures``."""

    model_config = _STRICT
    tiers: dict[Tier, TierModel] = Field(default_factory=dict)
    measures: MeasureModel = MeasureModel()

    def limits(self, tier: Tier) -> TierLimits:
        """The tier's limits: the file's values over the defaults."""
        base = TIER_LIMITS[tier]
        model = self.tiers.get(tier)
        if model is None:
            return base
        given = _given(model, exclude="breakers")
        breakers = dataclasses.replace(BreakerLimits(), **_given(model.breakers))
        return dataclasses.replace(base, **given, breakers=breakers)

    def measure_settings(self) -> MeasureSettings:
        return MeasureSettings(**self.measures.model_dump())


def _given(model: BaseModel, exclude: str = "") -> dict[str, Any]:
    return {k: v for k, v in model if v is not None and k != exclude}


def load_risk_config(path: Path | None) -> RiskConfig:
    """Read and validate ``path``; None gives the defaults.

    Raises:
        ConfigError: the file is missing or unreadable, not YAML, or invalid
            ("<file>:<line>: <field>: <reason> (was <value>)").
    """
    if path is None:
        return RiskConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the risk config: {exc.strerror}") from None
    return parse_risk_config(text, str(path))


def parse_risk_config(text: str, source: str) -> RiskConfig:
    """Validate one YAML document (``source`` names it in errors); empty means defaults.

    Raises:
        ConfigError: as ``load_risk_config``.
    """
    import yaml  # here, not at the top: a backtest without a risk file never loads it

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{line}: invalid YAML: {reason}") from None
    if data is None:
        return RiskConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: expected a mapping, was {type(data).__name__}")
    try:
        return RiskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problem(exc, source, key_lines(node))) from None


def _problem(exc: ValidationError, source: str, lines: Mapping[tuple[str, ...], int]) -> str:
    err = exc.errors()[0]
    path = tuple(str(p) for p in err.get("loc", ()) if p != "[key]")  # a bad mapping key
    field = ".".join(path) or "(document)"
    if err.get("type") == "extra_forbidden":
        reason = "unknown key"
    elif err.get("type") == "enum":
        reason = f"unknown tier (was {err.get('input')!r}); tiers are sniper, hunter, strategist"
    else:
        reason = f"{err.get('msg', 'invalid')} (was {err.get('input')!r})"
    while path and path not in lines:
        path = path[:-1]
    return f"{source}:{lines.get(path, 1)}: {field}: {reason}"
