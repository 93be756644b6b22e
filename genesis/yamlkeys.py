"""Where each key of a YAML document is: for error messages that name file and line."""

from __future__ import annotations

from typing import Any

__all__ = ["key_lines"]


def key_lines(node: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """(key path) -> 1-based line of that key, for every mapping key in the document."""
    import yaml  # here, not at the top: a backtest without YAML files never loads it

    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            lines[path] = key_node.start_mark.line + 1
            lines.update(key_lines(value_node, path))
    return lines
