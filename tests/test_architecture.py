"""STYLE.md R1 and R3, enforced with ``ast``: the kernel packages stay synchronous,
clock-driven and seeded. A violation names the file, the line and the rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "genesis"

# Kernel packages, whole: everything under them is pure (R1, R3). Plus the pure modules of
# the mixed packages (data readers, the simulated venue, config models).
KERNEL_PACKAGES = ("core", "kernel", "strategies", "risk", "execution", "portfolio", "analytics")
KERNEL_PATHS = (
    *KERNEL_PACKAGES,
    "data/book.py",
    "data/bars.py",
    "data/loaders.py",
    "data/capture.py",
    "data/capture_venues.py",
    "data/timeparse.py",
    "data/sources.py",
    "data/inference.py",
    "daemon/records.py",
    "config/models.py",
    "paper/criteria.py",
    "paper/promotion.py",
    "config/loader.py",
    "exchange/simulated.py",
    "exchange/darkpool.py",
    "exchange/fills.py",
    "exchange/account.py",
    "backtesting/runner.py",
)
# what a kernel package may never import (by package prefix): the shell, storage, the
# research runner, and every network client
FORBIDDEN_FOR_KERNEL = (
    "genesis.daemon",
    "genesis.engine",
    "genesis.storage",
    "genesis.backtesting",
    "genesis.exchange.binance",
    "genesis.exchange.ccxt",
    "genesis.exchange.sandbox",
    "genesis.exchange.live",
    "genesis.settings",
    "ccxt",
    "aiohttp",
    "websockets",
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
    assert len(files) >= 40
    assert ROOT / "kernel" / "kernel.py" in files
    assert ROOT / "kernel" / "driver.py" in files


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


# --- layering and cycles (every import counts: TYPE_CHECKING and function-local too) ----------


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every genesis module (or external top-level package) ``path`` imports, anywhere in it."""
    found: set[str] = set()
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _all_modules()
    return {
        name: {i for i in _imports(path, modules) if i in modules and i != name}
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycles() -> None:
    """No two genesis modules import each other, directly or through others (TYPE_CHECKING too)."""
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    """The finder is not vacuous: a three-module loop is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", KERNEL_PACKAGES)
def test_kernel_package_stays_below_the_shell(package: str) -> None:
    """No module of a kernel package imports the daemon, storage, backtesting or a network client."""
    modules = _all_modules()
    bad = [
        f"{name} imports {imported}"
        for name, path in modules.items()
        if name == f"genesis.{package}" or name.startswith(f"genesis.{package}.")
        for imported in sorted(_imports(path, modules))
        if any(imported == f or imported.startswith(f"{f}.") for f in FORBIDDEN_FOR_KERNEL)
    ]
    assert bad == []


def test_a_kernel_is_built_in_one_place() -> None:
    """``Kernel(...)`` is called only by genesis/kernel/builder.py (R4); everyone else builds through it."""
    callers = []
    for base in (ROOT, ROOT.parent / "tests", ROOT.parent / "benchmarks"):
        for path in sorted(base.rglob("*.py")):
            if path.name == "test_architecture.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            callers.extend(
                str(path.relative_to(ROOT.parent))
                for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Kernel"
            )
    assert callers == ["genesis/kernel/builder.py"]


def test_the_shell_has_no_mixins() -> None:
    """Every class of genesis/daemon has at most one base, and none extends another daemon class."""
    daemon_classes: set[str] = set()
    bases: dict[str, list[str]] = {}
    for path in sorted((ROOT / "daemon").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                daemon_classes.add(node.name)
                bases[f"{path.name}:{node.name}"] = [ast.unparse(b) for b in node.bases]
    bad = {
        name: found
        for name, found in bases.items()
        if len(found) > 1 or any(b in daemon_classes for b in found)
    }
    assert bad == {}
