"""STYLE.md R1 and R3, enforced with ``ast``: the kernel packages stay synchronous,
clock-driven and seeded. A violation names the file, the line and the rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "genesis"

KERNEL_PATHS = (
    "core",
    "data/book.py",
    "data/bars.py",
    "data/loaders.py",
    "data/capture.py",
    "data/capture_venues.py",
    "data/timeparse.py",
    "data/sources.py",
    "strategies",
    "risk",
    "engine/reload.py",
    "engine/journal.py",
    "execution",
    "portfolio",
    "analytics",
    "config/models.py",
    "config/loader.py",
    "exchange/simulated.py",
    "exchange/fills.py",
    "exchange/account.py",
    "engine/kernel.py",
    "engine/market.py",
    "backtesting/runner.py",
)

BANNED_MODULES = (
    "asyncio",
    "aiohttp",
    "websockets",
    "aiosqlite",
    "asyncpg",
    "watchfiles",
    "sqlite3",
    "trio",
    "anyio",
)
BANNED_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "perf_counter_ns"),
    ("time", "sleep"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("os", "urandom"),
}
RANDOM_FUNCS = {
    "random",
    "randint",
    "choice",
    "choices",
    "shuffle",
    "uniform",
    "gauss",
    "sample",
    "randrange",
    "getrandbits",
    "seed",
}


def kernel_files() -> list[Path]:
    files: list[Path] = []
    for rel in KERNEL_PATHS:
        path = ROOT / rel
        files.extend(
            sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
        )
    return files


def violations(source: str, name: str = "<src>") -> list[str]:
    """Every R1/R3 violation in ``source`` as 'name:line: reason'."""
    found: list[str] = []
    tree = ast.parse(source)
    aliases = _module_aliases(tree)
    for node in ast.walk(tree):
        reason = _check(node, aliases)
        if reason:
            found.append(f"{name}:{getattr(node, 'lineno', 0)}: {reason}")
    return found


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> module or 'module.attr' it stands for."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _check(node: ast.AST, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
        return f"async syntax ({type(node).__name__}) in the kernel (R1)"
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
        for name in names:
            if name.split(".")[0] in BANNED_MODULES:
                return f"imports {name} in the kernel (R1)"
    if isinstance(node, ast.Call):
        target = _call_target(node.func, aliases)
        if target is None:
            return None
        module, attr = target
        if (module.split(".")[-1], attr) in BANNED_CALLS:
            return f"calls {module}.{attr}(): wall clock or ambient randomness (R3)"
        if module == "random" and attr in RANDOM_FUNCS:
            return f"calls module-level random.{attr}(): pass a seeded random.Random (R3)"
        if module == "decimal" and attr == "Decimal" and node.args and _is_float_call(node.args[0]):
            return "Decimal(float(...)) converts through binary floating point (R7)"
    return None


def _call_target(func: ast.expr, aliases: dict[str, str]) -> tuple[str, str] | None:
    if isinstance(func, ast.Attribute):
        base = func.value
        if isinstance(base, ast.Name):
            return aliases.get(base.id, base.id), func.attr
        if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
            return f"{aliases.get(base.value.id, base.value.id)}.{base.attr}", func.attr
        return None
    if isinstance(func, ast.Name) and func.id in aliases:
        module, _, attr = aliases[func.id].rpartition(".")
        return (module, attr) if module else None
    return None


def _is_float_call(arg: ast.expr) -> bool:
    return isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "float"


def test_kernel_files_exist() -> None:
    """The walk covers the real kernel modules, so an empty list cannot pass silently."""
    files = kernel_files()
    assert len(files) >= 25
    assert ROOT / "engine" / "kernel.py" in files


@pytest.mark.parametrize("path", kernel_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_kernel_module_is_pure(path: Path) -> None:
    """No asyncio/network/database imports, no async syntax, no wall clock, no unseeded randomness."""
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import asyncio\n", "imports asyncio"),
        ("from aiohttp import web\n", "imports aiohttp"),
        ("import asyncpg as pg\n", "imports asyncpg"),
        ("async def f():\n    pass\n", "async syntax"),
        ("import time\nx = time.time()\n", "time.time()"),
        ("from time import monotonic\nx = monotonic()\n", "time.monotonic()"),
        ("import datetime\nx = datetime.datetime.now()\n", "datetime.now()"),
        ("from datetime import datetime\nx = datetime.now()\n", "datetime.now()"),
        ("import uuid\nx = uuid.uuid4()\n", "uuid.uuid4()"),
        ("import random\nx = random.random()\n", "random.random()"),
        ("from random import shuffle\nshuffle([1])\n", "random.shuffle()"),
        ("from decimal import Decimal\nx = Decimal(float('1.1'))\n", "Decimal(float"),
    ],
)
def test_checker_catches_violation(source: str, rule: str) -> None:
    """Each banned construct is reported, so the purity test would fail on it."""
    found = violations(source)
    assert len(found) == 1
    assert rule in found[0]


def test_checker_allows_seeded_random() -> None:
    """A random.Random(seed) instance is the sanctioned way to draw numbers."""
    assert violations("import random\nrng = random.Random(7)\nx = rng.random()\n") == []
