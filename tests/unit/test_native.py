"""The compiled hot modules: used only when built from the current sources, else the ``.py``."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesis import native

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
MODULES = ("fakepkg.alpha", "fakepkg.beta")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A package of two modules, each with an extension file beside it and a build record."""
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in MODULES:
        stem = name.split(".")[1]
        (pkg / f"{stem}.py").write_text(f"WHERE = 'source of {stem}'\n")
        (pkg / f"{stem}{SUFFIX}").write_bytes(b"not a real extension")
    record = {"modules": list(MODULES), "suffix": SUFFIX, "sources": native.source_hashes(pkg)}
    (pkg / native.RECORD).write_text(json.dumps(record))
    return pkg


@pytest.fixture
def restore_import_state() -> Iterator[None]:
    meta_path, state = list(sys.meta_path), native.state()
    yield
    sys.meta_path[:] = meta_path
    native._STATE = state
    for name in (*MODULES, "fakepkg"):
        sys.modules.pop(name, None)


def test_a_build_matching_its_sources_is_used(package: Path) -> None:
    assert native.stale_reason(package, MODULES) is None


def test_an_edited_source_is_named(package: Path) -> None:
    (package / "beta.py").write_text("WHERE = 'edited'\n")
    reason = native.stale_reason(package, MODULES) or ""
    assert "genesis/beta.py changed since the build" in reason


def test_any_module_of_the_package_counts_not_only_the_compiled_ones(package: Path) -> None:
    """Compiled code holds the types of what it imports: an edit there is a rebuild too."""
    (package / "events.py").write_text("FIELD = 1\n")
    reason = native.stale_reason(package, MODULES) or ""
    assert "genesis/events.py changed since the build" in reason


def _record_stats(package: Path) -> None:
    record = json.loads((package / native.RECORD).read_text())
    record["stats"] = native.source_stats(package)
    (package / native.RECORD).write_text(json.dumps(record))


def test_with_stats_an_edit_is_found_and_a_touch_is_not(package: Path) -> None:
    """A build recording stats re-hashes only sources whose size or time moved."""
    _record_stats(package)
    assert native.stale_reason(package, MODULES) is None
    beta = package / "beta.py"
    os.utime(beta, ns=(beta.stat().st_atime_ns, beta.stat().st_mtime_ns + 10**9))  # a touch
    assert native.stale_reason(package, MODULES) is None
    beta.write_text("WHERE = 'source of beat'\n")  # same size, new bytes
    reason = native.stale_reason(package, MODULES) or ""
    assert "genesis/beta.py changed since the build" in reason


def test_with_stats_an_added_or_removed_source_is_found(package: Path) -> None:
    _record_stats(package)
    (package / "gamma.py").write_text("")
    assert "genesis/gamma.py changed" in (native.stale_reason(package, MODULES) or "")
    (package / "gamma.py").unlink()
    (package / "__init__.py").unlink()
    assert "genesis/__init__.py changed" in (native.stale_reason(package, MODULES) or "")


def test_a_build_for_another_python_or_module_list_is_refused(package: Path) -> None:
    record = json.loads((package / native.RECORD).read_text())
    (package / native.RECORD).write_text(json.dumps({**record, "suffix": ".cpython-312.so"}))
    reason = native.stale_reason(package, MODULES) or ""
    assert "the build was for .cpython-312.so and other modules" in reason
    (package / native.RECORD).write_text(json.dumps({**record, "modules": ["fakepkg.alpha"]}))
    assert "rebuild" in (native.stale_reason(package, MODULES) or "")


def test_a_missing_extension_or_record_is_named(package: Path) -> None:
    (package / f"alpha{SUFFIX}").unlink()
    reason = native.stale_reason(package, MODULES) or ""
    assert f"fakepkg/alpha.py is not compiled for this Python ({SUFFIX})" in reason
    (package / native.RECORD).unlink()
    reason = native.stale_reason(package, MODULES) or ""
    assert "without a readable _native.json" in reason


def test_nothing_built_says_how_to_build(tmp_path: Path) -> None:
    (tmp_path / "alpha.py").write_text("")
    reason = native.stale_reason(tmp_path, MODULES)
    assert reason == "pure Python: not compiled (python -m genesis native build)"


@pytest.mark.usefixtures("restore_import_state")
def test_stale_modules_are_imported_from_their_sources(package: Path) -> None:
    """The extension files here are not loadable: an import that works came from the .py."""
    (package / "alpha.py").write_text("WHERE = 'source of alpha, edited'\n")
    sys.path.insert(0, str(package.parent))
    try:
        state = native.activate(package, MODULES)
        assert not state.compiled
        assert importlib.import_module("fakepkg.alpha").WHERE == "source of alpha, edited"
        assert importlib.import_module("fakepkg.beta").WHERE == "source of beta"  # all or none
    finally:
        sys.path.remove(str(package.parent))


@pytest.mark.usefixtures("restore_import_state")
def test_an_extension_no_longer_listed_is_still_hidden(package: Path) -> None:
    """A module dropped from the list keeps its old extension on disk: Python would prefer
    it to the .py in any mode, so the finder covers every extension it finds."""
    (package / native.RECORD).unlink()
    sys.path.insert(0, str(package.parent))
    try:
        native.activate(package, MODULES[:1])
        assert importlib.import_module("fakepkg.beta").WHERE == "source of beta"
    finally:
        sys.path.remove(str(package.parent))


def test_genesis_native_0_runs_the_sources() -> None:
    """GENESIS_NATIVE=0: the kernel is its .py, and the state says why."""
    code = (
        "import genesis, genesis.kernel.kernel as k;"
        "print(k.__file__.endswith('.py'), genesis.native.state().detail)"
    )
    env = {**os.environ, "GENESIS_NATIVE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True pure Python: GENESIS_NATIVE=0"


def test_the_compiled_build_is_in_use_where_ci_built_it() -> None:
    """.ci/run builds the modules and sets GENESIS_EXPECT_NATIVE=1: the tests then run the
    compiled kernel, as a user's daemon does."""
    if os.environ.get("GENESIS_EXPECT_NATIVE") != "1":
        pytest.skip("GENESIS_EXPECT_NATIVE is not 1 (set by .ci/run after native build)")
    assert native.state().compiled, native.state().detail
    kernel = importlib.import_module("genesis.kernel.kernel")
    assert (kernel.__file__ or "").endswith(SUFFIX)
