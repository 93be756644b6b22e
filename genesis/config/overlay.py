"""Environment overlays of strategy configs (SPEC CF-2): dev, staging, prod.

``GENESIS_ENV=prod`` (or ``--env prod``) lays ``config/env/prod/<id>.yaml`` over
``config/strategies/<id>.yaml``: the ``env`` directory sits beside the strategies
directory, one sub-directory per environment, one optional file per strategy id
(its file name's stem). The overlay holds only what differs; the merge is deep:

* a mapping merges key by key, recursively (``params: {lookback: 50}`` changes
  one parameter and keeps the others);
* anything else (a scalar, a list such as ``instruments``) replaces the base's.

The merged document is validated as a whole, exactly as a plain file is; an
error names the overlay's file and line when the offending key is the overlay's,
else the base file's. An overlay file with no base file of its id is refused
(a typo would otherwise silently change nothing). ``changes`` lists the merge's
differences from the base per dotted key, for ``genesis config diff --env``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from genesis.errors import ConfigError

__all__ = ["ENVIRONMENTS", "changes", "deep_merge", "overlay_dir", "unmatched_overlays"]

ENVIRONMENTS: Final = ("dev", "staging", "prod")
_MISSING: Final = "(not set)"


def overlay_dir(strategies_dir: Path, env: str) -> Path | None:
    """``<strategies_dir>/../env/<env>``; None for no environment ("").

    Raises:
        ConfigError: an environment other than dev, staging or prod.
    """
    if not env:
        return None
    if env not in ENVIRONMENTS:
        raise ConfigError(f"environment must be one of {', '.join(ENVIRONMENTS)}, was {env!r}")
    return strategies_dir.parent / "env" / env


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: ``overlay`` over ``base``, mappings merged recursively."""
    merged = dict(base)
    for key, value in overlay.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def changes(base: Mapping[str, Any], merged: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted key, base value, merged value)`` for every leaf that differs, sorted by
    key; a key only one side has shows ``(not set)`` on the other."""
    found: list[tuple[str, Any, Any]] = []
    _walk("", base, merged, found)
    return sorted(found, key=lambda c: c[0])


def _walk(prefix: str, a: Mapping[str, Any], b: Mapping[str, Any], out: list[Any]) -> None:
    for key in sorted(set(a) | set(b), key=str):
        name = f"{prefix}{key}"
        left, right = a.get(key, _MISSING), b.get(key, _MISSING)
        if isinstance(left, Mapping) and isinstance(right, Mapping):
            _walk(name + ".", left, right, out)
        elif left != right:
            out.append((name, left, right))


def unmatched_overlays(overlay: Path, ids: set[str]) -> list[Path]:
    """Overlay files of ``overlay`` whose stem is no base strategy's id."""
    if not overlay.is_dir():
        return []
    files = [*overlay.glob("*.yaml"), *overlay.glob("*.yml")]
    return sorted(p for p in files if p.stem not in ids)
