"""Compiled hot paths: ``python -m genesis native build|clean|status``.

Genesis is pure Python and runs as such everywhere. ``native build`` compiles the
modules every market event and every order passes through (``NATIVE_MODULES``:
the kernel and its driver, the OMS and order factory, pre-trade risk, the
simulated venue, the L2 book, the portfolio) with mypyc into C extensions beside
their sources. It is the same code, type-checked and compiled; Python then imports
the extension instead of the ``.py`` (BENCHMARKS.md: the order path about twice as
fast). Nothing else changes: outputs are byte-identical, and a strategy is never
compiled (it is the user's code, loaded from its file).

Theory of operation
-------------------
A compiled module that is older than its source would run old code. So ``build``
records the SHA-256 of every source it compiled in ``genesis/_native.json``, and
``activate()``, which ``import genesis`` runs before anything else, checks the record
against the sources. When a source changed since (an edit, a pull), when an
extension is missing for this Python, or when ``GENESIS_NATIVE=0`` is set, every
compiled module is imported from its ``.py`` instead: a finder placed first on
``sys.meta_path`` hands out the sources. It is all or none, because compiled
modules call each other natively. ``state()`` says which it is and why; the daemon
logs it at start, and ``native status`` prints it.

Only the standard library is imported here: this module runs before the rest of
``genesis`` is imported. ``build`` needs mypy, setuptools and a C compiler
(``pip install -e '.[native]'``); without a compiler it says so and leaves Genesis
pure Python.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "NATIVE_MODULES",
    "NativeState",
    "activate",
    "add_parser",
    "build",
    "clean",
    "run",
    "state",
]

NATIVE_MODULES: tuple[str, ...] = (
    "genesis.backtesting.events",
    "genesis.backtesting.output",
    "genesis.core.clock",
    "genesis.core.ids",
    "genesis.core.instruments",
    "genesis.core.money",
    "genesis.core.orders",
    "genesis.data.book",
    "genesis.exchange.account",
    "genesis.exchange.fills",
    "genesis.exchange.simulated",
    "genesis.execution.factory",
    "genesis.execution.oms",
    "genesis.execution.tca",
    "genesis.kernel.driver",
    "genesis.kernel.kernel",
    "genesis.kernel.market",
    "genesis.kernel.pretrade",
    "genesis.kernel.support",
    "genesis.portfolio.accounting",
    "genesis.portfolio.performance",
    "genesis.portfolio.positions",
    "genesis.risk.checks",
    "genesis.risk.engine",
    "genesis.risk.monitor",
    "genesis.strategies.context",
    "genesis.strategies.guard",
)
GROUP = "genesis._native"  # mypyc's shared library: genesis/_native__mypyc.<suffix>
RECORD = "_native.json"  # in the package: the build's source hashes
PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class NativeState:
    """Whether the compiled modules are in use, and why (one sentence) when not."""

    compiled: bool
    detail: str

    def __str__(self) -> str:
        return self.detail


_STATE = NativeState(False, "not activated")


def state() -> NativeState:
    return _STATE


def activate(package: Path = PACKAGE, modules: Sequence[str] = NATIVE_MODULES) -> NativeState:
    """Use the compiled modules when they match their sources; else import every one of
    them from its ``.py``. Runs once, from ``genesis/__init__.py``."""
    global _STATE
    forced = os.environ.get("GENESIS_NATIVE", "").strip() == "0"
    reason = "pure Python: GENESIS_NATIVE=0" if forced else stale_reason(package, modules)
    if reason is None:
        _STATE = NativeState(True, f"compiled: {len(modules)} modules (mypyc)")
        return _STATE
    if any(_extension(package, name).exists() for name in modules):
        sys.meta_path.insert(0, _SourceFinder(package, modules))
    _STATE = NativeState(False, reason)
    return _STATE


def stale_reason(package: Path, modules: Sequence[str]) -> str | None:
    """None when every module's extension exists and was built from its current source;
    else why the pure-Python modules are used."""
    built = [name for name in modules if _extension(package, name).exists()]
    if not built:
        return "pure Python: not compiled (python -m genesis native build)"
    try:
        record = json.loads((package / RECORD).read_text(encoding="utf-8"))
        hashes: dict[str, str] = record["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"pure Python: compiled modules without a readable {RECORD}; rebuild them"
    for name in modules:
        source = _source(package, name)
        if not _extension(package, name).exists():
            suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
            return f"pure Python: {_rel(source)} is not compiled for this Python ({suffix})"
        if hashes.get(name) != _digest(source):
            return f"pure Python: {_rel(source)} changed since it was compiled; rebuild"
    return None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Imports the compiled modules from their sources (see the module docstring)."""

    def __init__(self, package: Path, modules: Sequence[str]) -> None:
        self._sources = {name: _source(package, name) for name in modules}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self._sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def _source(package: Path, name: str) -> Path:
    return package.joinpath(*name.split(".")[1:]).with_suffix(".py")


def _extension(package: Path, name: str) -> Path:
    source = _source(package, name)
    return source.with_name(source.stem + importlib.machinery.EXTENSION_SUFFIXES[0])


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _rel(path: Path) -> str:
    return (
        str(path.relative_to(PACKAGE.parent)) if path.is_relative_to(PACKAGE.parent) else str(path)
    )


# --- building ---------------------------------------------------------------------


class NativeBuildError(Exception):
    """The compile failed: the sentence says where."""


def build(package: Path = PACKAGE, modules: Sequence[str] = NATIVE_MODULES) -> str:
    """Compile ``modules`` in place and record their sources; return what was done.

    Raises:
        NativeBuildError: mypy or setuptools is missing, or mypyc or the C compiler failed.
    """
    compiler = _compiler()
    if compiler is None:
        return "no C compiler found (cc, gcc or $CC): Genesis stays pure Python"
    missing = [m for m in ("mypy", "mypyc", "setuptools") if importlib.util.find_spec(m) is None]
    if missing:
        raise NativeBuildError(
            f"{', '.join(missing)} not installed: pip install -e '.[native]' first"
        )
    for path in [_extension(package, name) for name in modules] + [package / RECORD]:
        path.unlink(missing_ok=True)  # a running process keeps the file it mapped
    root = package.parent
    sources = [str(_source(package, name).relative_to(root)) for name in modules]
    script = (
        "import sys\n"
        "from mypyc.build import mypycify\n"
        "from setuptools import setup\n"
        f"ext = mypycify({sources!r}, group_name={GROUP!r}, opt_level='3',"
        " target_dir='build/native')\n"
        "setup(name='genesis-native', ext_modules=ext, script_args=['build_ext', '--inplace',"
        " '--build-temp', 'build/native/temp'])\n"
    )
    env = {**os.environ, "GENESIS_NATIVE": "0", "CC": compiler}
    done = subprocess.run(  # noqa: S603 (our interpreter, our script, our module paths)
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise NativeBuildError(f"mypyc failed (exit {done.returncode}):\n{tail}")
    record = {
        "python": sys.version.split()[0],
        "suffix": importlib.machinery.EXTENSION_SUFFIXES[0],
        "sources": {name: _digest(_source(package, name)) for name in modules},
    }
    (package / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return f"compiled {len(modules)} modules with mypyc ({compiler})"


def clean(package: Path = PACKAGE, modules: Sequence[str] = NATIVE_MODULES) -> int:
    """Remove the extensions, the shared library and the record; return files removed."""
    removed = 0
    paths = [_extension(package, name) for name in modules]
    paths += list(package.glob("_native__mypyc*"))
    paths.append(package / RECORD)
    for path in paths:
        if path.exists():
            path.unlink()
            removed += 1
    shutil.rmtree(package.parent / "build" / "native", ignore_errors=True)
    return removed


def _compiler() -> str | None:
    wanted = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc").split()[0]
    for name in (wanted, "cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return found
    return None


# --- command line -----------------------------------------------------------------


def add_parser(sub: Any) -> None:
    """Register ``native``."""
    p = sub.add_parser(
        "native",
        help="compile the hot modules with mypyc (build), remove them (clean), or say "
        "which are in use (status)",
    )
    p.add_argument("action", choices=("build", "clean", "status"), help="what to do")


def run(args: Any) -> int:
    if args.action == "status":
        print(json.dumps({"compiled": _STATE.compiled, "detail": _STATE.detail}))
        return 0
    if args.action == "clean":
        print(f"genesis native: removed {clean()} files; Genesis is pure Python")
        return 0
    try:
        print(f"genesis native: {build()}")
    except NativeBuildError as exc:
        print(f"genesis native: error: {exc}", file=sys.stderr)
        return 1
    return 0
