"""The explicit strategy registry: name → (class, params model, tiers).

Built-in strategy modules register themselves at import; ``load_builtins``
imports them by name (no directory scanning). A config may also name any
strategy by import path, ``"package.module:Class"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from genesis.errors import ConfigError
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams

__all__ = [
    "StrategySpec",
    "get",
    "known_names",
    "load_builtins",
    "parse_params",
    "register",
]

_BUILTIN_MODULES = (
    "genesis.strategies.reference",
    "genesis.strategies.sniper.momentum_breakout",
    "genesis.strategies.sniper.cross_venue_arbitrage",
    "genesis.strategies.sniper.wyckoff_spring",
    "genesis.strategies.book_imbalance",
    "genesis.strategies.hunter.pairs_trading",
    "genesis.strategies.hunter.mean_reversion",
    "genesis.strategies.hunter.portfolio",
    "genesis.strategies.strategist.twap",
    "genesis.strategies.strategist.vwap",
    "genesis.strategies.strategist.shortfall",
    "genesis.strategies.strategist.market_maker",
    "genesis.strategies.strategist.smart_router",
)

# The module registering each built-in name: resolving one imports only its module (the
# thirteen modules and their parameter models took ~50 ms of a backtest's start).
# tests/unit/strategies checks this table against what the modules register.
BUILTIN_NAMES: dict[str, str] = {
    "book_imbalance": "genesis.strategies.book_imbalance",
    "cross_venue_arbitrage": "genesis.strategies.sniper.cross_venue_arbitrage",
    "market_maker": "genesis.strategies.strategist.market_maker",
    "mean_reversion": "genesis.strategies.hunter.mean_reversion",
    "momentum_breakout": "genesis.strategies.sniper.momentum_breakout",
    "multi_pair_portfolio": "genesis.strategies.hunter.portfolio",
    "pairs_trading": "genesis.strategies.hunter.pairs_trading",
    "shortfall": "genesis.strategies.strategist.shortfall",
    "sma_cross": "genesis.strategies.reference",
    "smart_router": "genesis.strategies.strategist.smart_router",
    "twap": "genesis.strategies.strategist.twap",
    "vwap": "genesis.strategies.strategist.vwap",
    "wyckoff_spring": "genesis.strategies.sniper.wyckoff_spring",
}


@dataclass(frozen=True, slots=True)
class StrategySpec:
    name: str
    cls: type[Strategy[Any]]
    params: type[StrategyParams]
    tiers: tuple[Tier, ...]
    spec_ids: tuple[str, ...] = ()  # the SPEC capabilities it implements, e.g. ("ST-S2",)


_REGISTRY: dict[str, StrategySpec] = {}

S = TypeVar("S", bound=type[Strategy[Any]])


def register(name: str, tiers: tuple[Tier, ...], spec: tuple[str, ...] = ()) -> Callable[[S], S]:
    """Class decorator adding a strategy to the registry under ``name``; ``spec`` names
    the SPEC capabilities it implements (shown by ``genesis strategies``)."""

    def decorate(cls: S) -> S:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.cls is not cls:
            raise ConfigError(f"strategy name {name!r} is registered twice")
        _REGISTRY[name] = StrategySpec(name, cls, cls.Params, tiers, spec)
        return cls

    return decorate


def load_builtins() -> None:
    """Import the built-in strategy modules (idempotent)."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def known_names() -> list[str]:
    load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> StrategySpec:
    """Resolve a registered name or a ``"pkg.mod:Class"`` path.

    Raises:
        ConfigError: unknown name (the message lists the known ones) or a bad path.
    """
    module = BUILTIN_NAMES.get(name)
    if module is not None:
        importlib.import_module(module)  # a built-in: its own module registers it
    else:
        load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return _from_path(name)
    raise ConfigError(f"unknown strategy {name!r}; known strategies: {', '.join(known_names())}")


def _from_path(path: str) -> StrategySpec:
    module_name, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import strategy {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"{path!r} is not a Strategy subclass")
    registered = next((spec for spec in _REGISTRY.values() if spec.cls is cls), None)
    tiers = (
        registered.tiers if registered is not None else tuple(Tier)
    )  # a registered class keeps its tiers
    spec_ids = registered.spec_ids if registered is not None else ()
    return StrategySpec(path, cls, cls.Params, tiers, spec_ids)


def parse_params(
    spec: StrategySpec, raw: Mapping[str, Any], source: str = "params"
) -> StrategyParams:
    """Validate ``raw`` with the strategy's own model.

    Raises:
        ConfigError: one line per problem: source, field, reason and the value given.
    """
    try:
        return spec.params.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(_describe(err, source) for err in exc.errors())
        raise ConfigError(f"strategy {spec.name}: {problems}") from None


def _describe(err: Mapping[str, Any], source: str) -> str:
    field = ".".join(str(p) for p in err.get("loc", ())) or "(model)"
    if err.get("type") == "extra_forbidden":
        return f"{source} {field}: unknown parameter"
    value = err.get("input")
    shown = f" (was {value!r})" if not isinstance(value, dict) else ""
    return f"{source} {field}: {err.get('msg', 'invalid')}{shown}"
