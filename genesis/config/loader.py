"""YAML → ``StrategyConfig``, validated by the config model and the strategy's own params.

Every refusal is a ``ConfigError`` of the form ``<file>:<line>: <field>: <reason>``,
with the line of the offending key (or of the document when the key is missing),
so an operator editing a file can go straight to the mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genesis.config.models import StrategyConfig
from genesis.errors import ConfigError
from genesis.strategies import registry
from genesis.yamlkeys import key_lines

__all__ = ["load_strategy_config", "load_strategy_configs", "parse_strategy_config"]


def load_strategy_config(path: Path) -> StrategyConfig:
    """Read and validate one strategy file; its ``id`` defaults to the file's stem.

    Raises:
        ConfigError: unreadable file, bad YAML, unknown key, wrong type, out-of-range
            value, unknown strategy, or a tier the strategy does not support.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_strategy_config(text, str(path), default_id=path.stem)


def load_strategy_configs(directory: Path) -> list[StrategyConfig]:
    """Every ``*.yaml`` / ``*.yml`` in ``directory``, sorted by file name.

    Raises:
        ConfigError: the first invalid file, or two files with the same id.
    """
    configs: list[StrategyConfig] = []
    seen: dict[str, Path] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        config = load_strategy_config(path)
        if config.id in seen:
            raise ConfigError(f"{path}: id {config.id!r} is already used by {seen[config.id]}")
        seen[config.id] = path
        configs.append(config)
    return configs


def parse_strategy_config(text: str, source: str, default_id: str) -> StrategyConfig:
    """Validate one YAML document (``source`` names it in errors)."""
    raw, lines = _parse(text, source)
    raw.setdefault("id", default_id)
    try:
        config = StrategyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_problem(exc, source, lines)) from None
    _check_strategy(config, source, lines)
    return config


def _parse(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    import yaml  # here, not at the top: a backtest without YAML files never loads it

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{line}: invalid YAML: {reason}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: expected a mapping of settings, was {type(data).__name__}")
    return data, key_lines(node)


def _line(lines: Mapping[tuple[str, ...], int], path: tuple[str, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _first_problem(exc: ValidationError, source: str, lines: Mapping[tuple[str, ...], int]) -> str:
    err = exc.errors()[0]
    path = tuple(str(p) for p in err.get("loc", ()))
    field = ".".join(path) or "(document)"
    if err.get("type") == "extra_forbidden":
        reason = "unknown key"
    elif err.get("type") == "missing":
        reason = "required key is missing"
    else:
        reason = f"{err.get('msg', 'invalid')} (was {err.get('input')!r})"
    return f"{source}:{_line(lines, path)}: {field}: {reason}"


def _check_strategy(
    config: StrategyConfig, source: str, lines: Mapping[tuple[str, ...], int]
) -> None:
    try:
        spec = registry.get(config.strategy)
    except ConfigError as exc:
        raise ConfigError(f"{source}:{_line(lines, ('strategy',))}: strategy: {exc}") from None
    if config.tier not in spec.tiers:
        allowed = ", ".join(t.value for t in spec.tiers)
        raise ConfigError(
            f"{source}:{_line(lines, ('tier',))}: tier: {spec.name} runs in {allowed}, "
            f"not {config.tier.value}"
        )
    try:
        spec.params.model_validate(config.params)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ("params", *(str(p) for p in err.get("loc", ())))
        reason = (
            "unknown parameter"
            if err.get("type") == "extra_forbidden"
            else (f"{err.get('msg', 'invalid')} (was {err.get('input')!r})")
        )
        raise ConfigError(f"{source}:{_line(lines, path)}: {'.'.join(path)}: {reason}") from None
