"""YAML → ``StrategyConfig``, validated by the config model and the strategy's own params.

Every refusal is a ``ConfigError`` of the form ``<file>:<line>: <field>: <reason>``,
with the line of the offending key (or of the document when the key is missing),
so an operator editing a file can go straight to the mistake. With an environment
overlay (``genesis.config.overlay``) the merged document is validated, and the
error names whichever file holds the offending key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from genesis.config.models import StrategyConfig
from genesis.config.overlay import deep_merge, unmatched_overlays
from genesis.errors import ConfigError
from genesis.strategies import registry
from genesis.yamlkeys import key_lines

__all__ = ["load_strategy_config", "load_strategy_configs", "parse_strategy_config"]


def load_strategy_config(path: Path, overlay: Path | None = None) -> StrategyConfig:
    """Read and validate one strategy file; its ``id`` defaults to the file's stem.

    ``overlay`` is an environment's directory (``genesis.config.overlay``): its file of
    the same name, when there is one, is merged over this one before validation.

    Raises:
        ConfigError: unreadable file, bad YAML, unknown key, wrong type, out-of-range
            value, unknown strategy, or a tier the strategy does not support.
    """
    text = _read(path)
    layer = _overlay_file(overlay, path.name) if overlay is not None else None
    if layer is None:
        return parse_strategy_config(text, str(path), default_id=path.stem)
    raw, lines = _parse(text, str(path))
    over, over_lines = _parse(_read(layer), str(layer))
    merged = deep_merge(raw, over)

    def locate(key: tuple[str, ...]) -> str:
        if _known(over_lines, key):
            return f"{layer}:{_line(over_lines, key)}"
        return f"{path}:{_line(lines, key)}"

    return _validate(merged, path.stem, locate)


def load_strategy_configs(directory: Path, overlay: Path | None = None) -> list[StrategyConfig]:
    """Every ``*.yaml`` / ``*.yml`` in ``directory``, sorted by file name, each with its
    file in ``overlay`` merged over it (``load_strategy_config``).

    Raises:
        ConfigError: the first invalid file, two files with the same id, or an overlay
            file that matches no strategy file.
    """
    configs: list[StrategyConfig] = []
    seen: dict[str, Path] = {}
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in paths:
        config = load_strategy_config(path, overlay)
        if config.id in seen:
            raise ConfigError(f"{path}: id {config.id!r} is already used by {seen[config.id]}")
        seen[config.id] = path
        configs.append(config)
    stray = unmatched_overlays(overlay, {p.stem for p in paths}) if overlay is not None else []
    if stray:
        raise ConfigError(f"{stray[0]}: overlay of no strategy file in {directory}")
    return configs


def parse_strategy_config(text: str, source: str, default_id: str) -> StrategyConfig:
    """Validate one YAML document (``source`` names it in errors)."""
    raw, lines = _parse(text, source)
    return _validate(raw, default_id, lambda key: f"{source}:{_line(lines, key)}")


def _validate(
    raw: dict[str, Any], default_id: str, locate: Callable[[tuple[str, ...]], str]
) -> StrategyConfig:
    raw.setdefault("id", default_id)
    try:
        config = StrategyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_problem(exc, locate)) from None
    _check_strategy(config, locate)
    return config


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _overlay_file(overlay: Path, name: str) -> Path | None:
    candidate = overlay / name
    return candidate if candidate.is_file() else None


def _known(lines: Mapping[tuple[str, ...], int], key: tuple[str, ...]) -> bool:
    return any(key[:n] in lines for n in range(len(key), 0, -1))


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


def _first_problem(exc: ValidationError, locate: Callable[[tuple[str, ...]], str]) -> str:
    err = exc.errors()[0]
    path = tuple(str(p) for p in err.get("loc", ()))
    field = ".".join(path) or "(document)"
    if err.get("type") == "extra_forbidden":
        reason = "unknown key"
    elif err.get("type") == "missing":
        reason = "required key is missing"
    else:
        reason = f"{err.get('msg', 'invalid')} (was {err.get('input')!r})"
    return f"{locate(path)}: {field}: {reason}"


def _check_strategy(config: StrategyConfig, locate: Callable[[tuple[str, ...]], str]) -> None:
    try:
        spec = registry.get(config.strategy)
    except ConfigError as exc:
        raise ConfigError(f"{locate(('strategy',))}: strategy: {exc}") from None
    if config.tier not in spec.tiers:
        allowed = ", ".join(t.value for t in spec.tiers)
        raise ConfigError(
            f"{locate(('tier',))}: tier: {spec.name} runs in {allowed}, not {config.tier.value}"
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
        raise ConfigError(f"{locate(path)}: {'.'.join(path)}: {reason}") from None
