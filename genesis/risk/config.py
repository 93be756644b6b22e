"""The risk configuration file (``config/risk.yaml``, ``GENESIS_RISK_CONFIG``): per-tier
limits, circuit breakers, the measures' sampling and the compliance rule sets
(SPEC RK-1, RK-3, RK-4, RK-6).

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
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from genesis.errors import ConfigError
from genesis.risk.compliance import DAYS, ComplianceRules, InstrumentClass, Session
from genesis.risk.limits import TIER_LIMITS, BreakerLimits, MeasureSettings, Tier, TierLimits
from genesis.yamlkeys import key_lines

__all__ = ["RiskConfig", "load_risk_config", "parse_risk_config"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_HHMM: Final = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


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


class SessionModel(BaseModel):
    """``compliance.rule_sets.<name>.sessions[]``: weekdays and ``HH:MM`` UTC, end exclusive
    (``24:00`` is the end of the day)."""

    model_config = _STRICT
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    start: str = Field(default="00:00", pattern=_HHMM)
    end: str = Field(default="24:00", pattern=_HHMM)

    @model_validator(mode="after")
    def _ordered(self) -> SessionModel:
        if _minutes(self.end) <= _minutes(self.start):
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    def session(self) -> Session:
        days = frozenset(DAYS.index(d) for d in self.days)
        return Session(days, _minutes(self.start), _minutes(self.end))


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class RuleSetModel(BaseModel):
    """``compliance.rule_sets.<name>``: see ``ComplianceRules``; every rule off by default."""

    model_config = _STRICT
    fifo: bool = False
    no_hedging: bool = False
    leverage: dict[InstrumentClass, Decimal] = Field(default_factory=dict)
    restricted: list[str] = Field(default_factory=list)
    sessions: list[SessionModel] = Field(default_factory=list)
    max_orders: int = Field(default=0, ge=0)
    order_window_s: int = Field(default=60, ge=1, le=86_400)

    @model_validator(mode="after")
    def _positive_caps(self) -> RuleSetModel:
        for klass, cap in self.leverage.items():
            if not cap > 0:
                raise ValueError(f"leverage cap of {klass.value} must be > 0 (was {cap})")
        return self

    def rules(self, name: str) -> ComplianceRules:
        return ComplianceRules(
            name=name, fifo=self.fifo, no_hedging=self.no_hedging, leverage=dict(self.leverage),
            restricted=frozenset(self.restricted),
            sessions=tuple(s.session() for s in self.sessions),
            max_orders=self.max_orders, order_window_s=self.order_window_s,
        )  # fmt: skip


class ComplianceModel(BaseModel):
    """``compliance``: named rule sets and the one in force (``active``, "" for none)."""

    model_config = _STRICT
    rule_sets: dict[str, RuleSetModel] = Field(default_factory=dict)
    active: str = ""  # after rule_sets: its validator reads them

    @field_validator("active")
    @classmethod
    def _known(cls, active: str, info: ValidationInfo) -> str:
        sets = info.data.get("rule_sets", {})
        if active and active not in sets:
            known = ", ".join(sorted(sets)) or "none"
            raise ValueError(f"rule set {active!r} is not defined (defined: {known})")
        return active

    def active_rules(self) -> ComplianceRules | None:
        if not self.active:
            return None
        rules = self.rule_sets[self.active].rules(self.active)
        return None if rules.empty else rules


class RiskConfig(BaseModel):
    """The whole file: ``tiers`` (sniper, hunter, strategist), ``measures`` and
    ``compliance`` (named rule sets and the active one: ``genesis.risk.compliance``)."""

    model_config = _STRICT
    tiers: dict[Tier, TierModel] = Field(default_factory=dict)
    measures: MeasureModel = MeasureModel()
    compliance: ComplianceModel = ComplianceModel()

    def compliance_rules(self) -> ComplianceRules | None:
        """The active rule set, or None (no compliance checks at all)."""
        return self.compliance.active_rules()

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
    elif err.get("type") == "enum" and path[:1] == ("tiers",):
        reason = f"unknown tier (was {err.get('input')!r}); tiers are sniper, hunter, strategist"
    else:
        reason = f"{err.get('msg', 'invalid')} (was {err.get('input')!r})"
    while path and path not in lines:
        path = path[:-1]
    return f"{source}:{lines.get(path, 1)}: {field}: {reason}"
