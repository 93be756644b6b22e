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
records the SHA-256, size and modification time of every ``.py`` of the package in
``genesis/_native.json`` (the compiled code also holds the types of the modules it
imports), and ``activate()``, which ``import genesis`` runs before anything else, checks
the record against the package as it is now (a stat of each source, and the hash of any
whose size or time differs: a touched file with the same bytes is still current) and
that the compiled library loads on this machine.
When a source changed since (an edit, a pull), an extension is missing for this
Python, the library does not load, or ``GENESIS_NATIVE=0`` is set, every module
with an extension on disk is imported from its ``.py`` instead: a finder placed
first on ``sys.meta_path`` hands out the sources. It is all or none, because
compiled modules call each other natively. ``state()`` says which it is and why;
the daemon logs it at start, and ``native status`` prints it. A build removes the
old extensions first (unlinked, so a running process keeps the copy it mapped) and
fails if a source changes while it compiles.

Strategies call into compiled code with whatever their Python holds: the calls they
make (``StrategyContext``, ``OrderFactory``, ``Kernel.add_strategy``) convert what a
compiled signature would refuse (a float or numpy timestamp, a truthy flag, ``None``
for a text, a list for a tuple).

Only the standard library is imported here: this module runs before the rest of
``genesis`` is imported. ``build`` needs mypy, setuptools and a C compiler
(``pip install -e '.[native]'``); without a compiler it says so and leaves Genesis
pure Python.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
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
    "genesis.analytics.market_making",
    "genesis.backtesting.events",
    "genesis.backtesting.output",
    "genesis.core.clock",
    "genesis.core.enums",
    "genesis.core.ids",
    "genesis.core.instruments",
    "genesis.core.money",
    "genesis.core.orders",
    "genesis.data.barcache",
    "genesis.data.book",
    "genesis.exchange.account",
    "genesis.exchange.fills",
    "genesis.exchange.simulated",
    "genesis.execution.emulation",
    "genesis.execution.factory",
    "genesis.execution.oco",
    "genesis.execution.oms",
    "genesis.execution.quality",
    "genesis.execution.tca",
    "genesis.kernel.driver",
    "genesis.kernel.kernel",
    "genesis.kernel.market",
    "genesis.kernel.pretrade",
    "genesis.kernel.reserve",
    "genesis.kernel.support",
    "genesis.portfolio.accounting",
    "genesis.portfolio.capacity",
    "genesis.portfolio.performance",
    "genesis.portfolio.positions",
    "genesis.risk.breakers",
    "genesis.risk.checks",
    "genesis.risk.engine",
    "genesis.risk.monitor",
    "genesis.risk.sampler",
    "genesis.strategies.context",
    "genesis.strategies.guard",
)
GROUP = "genesis._native"  # mypyc's shared library: genesis/_native__mypyc.<suffix>
RECORD = "_native.json"  # in the package: the build's source hashes and stats
PACKAGE = Path(__file__).resolve().parent
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this interpreter's extensions


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
    """Use the compiled modules when they were built from the package as it is now and
    load here; else import every module that has an extension from its ``.py``. Runs
    once, from ``genesis/__init__.py``."""
    global _STATE
    forced = os.environ.get("GENESIS_NATIVE", "").strip() == "0"
    reason = "pure Python: GENESIS_NATIVE=0" if forced else stale_reason(package, modules)
    if reason is None:
        reason = _load_failure(package)
    if reason is None:
        _STATE = NativeState(True, f"compiled: {len(modules)} modules (mypyc)")
        return _STATE
    compiled = _compiled_on_disk(package)
    if compiled:
        sys.meta_path.insert(0, _SourceFinder(package, compiled))
    _STATE = NativeState(False, reason)
    return _STATE


def stale_reason(package: Path, modules: Sequence[str]) -> str | None:
    """None when every module's extension exists for this Python and the build record
    matches every source of the package (the compiled code also holds the types of the
    modules it imports); else why the pure-Python modules are used."""
    if not any(_extension(package, name).exists() for name in modules):
        return "pure Python: not compiled (python -m genesis native build)"
    try:
        record = json.loads((package / RECORD).read_text(encoding="utf-8"))
        built: list[str] = list(record["modules"])
        hashes: dict[str, str] = dict(record["sources"])
        suffix: str = record["suffix"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"pure Python: compiled modules without a readable {RECORD}; rebuild them"
    if suffix != _SUFFIX or built != list(modules):
        return f"pure Python: the build was for {suffix} and other modules; rebuild"
    for name in modules:
        if not _extension(package, name).exists():
            source = _rel(_source(package, name))
            return f"pure Python: {source} is not compiled for this Python ({_SUFFIX})"
    stats = record.get("stats")
    if isinstance(stats, dict):
        changed = _changed_since(package, hashes, stats)
    else:  # a record without stats (an older build): hash every source
        now = source_hashes(package)
        changed = [p for p in sorted(now.keys() | hashes.keys()) if now.get(p) != hashes.get(p)]
    if changed:
        return f"pure Python: genesis/{changed[0]} changed since the build; rebuild"
    return None


def _changed_since(package: Path, hashes: dict[str, str], stats: dict[str, Any]) -> list[str]:
    """The sources whose content differs from the build's, hashing only those whose size
    or modification time differs from the record's (hashing all ~250 took 20-50 ms of
    every start on a busy machine; a stat is ~1 µs)."""
    now = source_stats(package)

    def same(path: str) -> bool:
        if path not in now or path not in hashes:
            return False  # added or removed since the build
        return list(now[path]) == stats.get(path) or _digest(package / path) == hashes[path]

    return [path for path in sorted(now.keys() | hashes.keys()) if not same(path)]


def source_stats(package: Path = PACKAGE) -> dict[str, tuple[int, int]]:
    """(size, modification time in ns) of every ``.py`` of the package, by path inside it."""
    out = {}
    for root, dirs, files in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = Path(root, name)
                info = path.stat()
                out[path.relative_to(package).as_posix()] = (info.st_size, info.st_mtime_ns)
    return out


def source_hashes(package: Path = PACKAGE) -> dict[str, str]:
    """SHA-256 of every ``.py`` of the package, by path inside it (~3 ms)."""
    out = {}
    for root, dirs, files in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = Path(root, name)
                out[path.relative_to(package).as_posix()] = _digest(path)
    return out


def _load_failure(package: Path) -> str | None:
    """Why the compiled library does not load on this machine (built elsewhere, cut
    short), or None."""
    if package != PACKAGE:
        return None  # a test's package: nothing to load
    try:
        importlib.import_module(GROUP + "__mypyc")
    except Exception as exc:  # any failure means: do not use it
        return f"pure Python: the compiled modules do not load here ({exc}); rebuild them"
    return None


def _compiled_on_disk(package: Path) -> list[str]:
    """Every module of the package with an extension file beside its source."""
    names = []
    for path in _extensions_on_disk(package):
        stem = path.name.split(".", 1)[0]
        source = path.with_name(stem + ".py")
        if source.exists():
            parts = source.relative_to(package.parent).with_suffix("").parts
            names.append(".".join(parts))
    return names


def _extensions_on_disk(package: Path) -> list[Path]:
    found: list[Path] = []
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for root, dirs, files in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found.extend(Path(root, name) for name in files if name.endswith(suffixes))
    return found


class _SourceFinder:
    """Imports the compiled modules from their sources (see the module docstring).

    A meta path finder by protocol (``find_spec``), not a subclass of
    ``importlib.abc.MetaPathFinder``: importing ``importlib.abc`` (and through it
    ``importlib.resources``, ``tempfile``, ``random``...) cost every command's start
    several milliseconds."""

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
    return source.with_name(source.stem + _SUFFIX)


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
    _remove_build(package)  # unlinked, not overwritten: a running process keeps its copy
    before = source_hashes(package)
    root = package.parent
    sources = [str(_source(package, name).relative_to(root)) for name in modules]
    script = (
        "from mypyc.build import mypycify\n"
        "from setuptools import setup\n"
        f"ext = mypycify({sources!r}, group_name={GROUP!r}, opt_level='3',"
        " target_dir='build/native')\n"
        "setup(name='genesis-native', ext_modules=ext, script_args=['build_ext', '--inplace',"
        " '--build-temp', 'build/native/temp'])\n"
    )
    env = {**os.environ, "GENESIS_NATIVE": "0", "CC": compiler}
    import subprocess

    done = subprocess.run(  # noqa: S603 (our interpreter, our script, our module paths)
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        _remove_build(package)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise NativeBuildError(f"mypyc failed (exit {done.returncode}):\n{tail}")
    if source_hashes(package) != before:
        _remove_build(package)
        raise NativeBuildError("a source changed while it was being compiled; build again")
    record = {
        "python": sys.version.split()[0],
        "suffix": _SUFFIX,
        "mypy": _version("mypy"),
        "modules": list(modules),
        "sources": before,
        # what activate() compares first: a source with its size and time is not re-hashed
        "stats": source_stats(package),
    }
    (package / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return f"compiled {len(modules)} modules with mypyc ({compiler})"


def clean(package: Path = PACKAGE) -> int:
    """Remove every extension of the package (any Python's), the record and the build
    directory; return the files removed."""
    removed = _remove_build(package)
    import shutil

    shutil.rmtree(package.parent / "build" / "native", ignore_errors=True)
    return removed


def _remove_build(package: Path) -> int:
    paths = [p for p in (*_extensions_on_disk(package), package / RECORD) if p.exists()]
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _compiler() -> str | None:
    import shutil
    import sysconfig

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
