"""``python -m genesis strategies [--json]``: every registered strategy, read from the registry.

For each: its name, the tiers that load it, the SPEC capabilities it
implements, the first line of its docstring, and its parameters as its own
pydantic model states them (type, default, range), so the listing can never
disagree with what a config is validated against.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from genesis.strategies import registry

__all__ = ["add_parser", "describe", "run"]

# annotated_types constraint class name -> the range word shown
_BOUNDS = {"Ge": ("ge", "min"), "Gt": ("gt", "above"), "Le": ("le", "max"), "Lt": ("lt", "below")}


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("strategies", help="list every strategy, its tiers and parameters")
    parser.add_argument("--json", action="store_true", help="one JSON array")


def run(args: argparse.Namespace) -> int:
    described = [describe(registry.get(name)) for name in registry.known_names()]
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        sys.stdout.write(_table(described))
    return 0


def describe(spec: registry.StrategySpec) -> dict[str, Any]:
    """One strategy as plain JSON-ready data."""
    doc = (spec.cls.__doc__ or "").strip().splitlines()
    return {
        "name": spec.name,
        "tiers": [t.value for t in spec.tiers],
        "spec": list(spec.spec_ids),
        "summary": doc[0] if doc else "",
        "module": spec.cls.__module__,
        "params": [_param(name, info) for name, info in spec.params.model_fields.items()],
    }


def _param(name: str, info: FieldInfo) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in info.metadata:
        for attr, _ in _BOUNDS.values():
            value = getattr(item, attr, None)
            if value is not None and type(item).__name__ in _BOUNDS:
                bounds[attr] = _jsonable(value)
    return {
        "name": name,
        "type": _type_name(info.annotation),
        "default": (
            None if info.is_required() else _jsonable(info.get_default(call_default_factory=True))
        ),
        "range": bounds,
        "description": info.description or "",
    }


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, BaseModel):  # nested settings (a regime detector's, say)
        return _jsonable(value.model_dump(mode="json"))
    return str(value)  # Decimal, enums: their text, exactly as a config would write them


def _table(described: list[dict[str, Any]]) -> str:
    lines = []
    for s in described:
        spec = f"  [{', '.join(s['spec'])}]" if s["spec"] else ""
        lines.append(f"{s['name']}  ({', '.join(s['tiers'])}){spec}")
        if s["summary"]:
            lines.append(f"    {s['summary']}")
        for p in s["params"]:
            rng = " ".join(f"{_word(k)} {v}" for k, v in p["range"].items())
            lines.append(f"    {p['name']:<24} {p['type']:<10} default {p['default']!s:<12} {rng}")
        lines.append("")
    return "\n".join(lines)


def _word(attr: str) -> str:
    return next(word for a, word in _BOUNDS.values() if a == attr)
