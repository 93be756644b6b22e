#!/usr/bin/env bash
# Create the BENCHMARK-ONLY virtualenv .bench-l2-venv at the repo root and install
# the L2 peer into it: hftbacktest 2.4.4 (with numba), orjson for the pure-Python
# floor, and py-spy / pyinstrument for profiling the benchmark's Genesis side.
#
# These packages are never Genesis dependencies: they are not in pyproject.toml,
# .bench-l2-venv is gitignored, and only benchmarks/l2_backtest.py uses them (it
# runs ../shared/tools/peer-l2/{convert_btc,bt,pyfloor}.py with .bench-l2-venv/bin/python).
#
# Idempotent: an existing venv is reused, and pip is only called when a package
# is missing. Usage: benchmarks/setup_l2_peers.sh   (PYTHON=python3.11 to choose
# the interpreter the venv is built from; it must be 3.11 or newer).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.bench-l2-venv"
PYTHON="${PYTHON:-python3}"
PACKAGES=("hftbacktest==2.4.4" numba orjson py-spy pyinstrument)
IMPORTS="import hftbacktest, numba, orjson, pyinstrument; from importlib.metadata import version; assert version('hftbacktest') == '2.4.4'"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
        || { echo "setup_l2_peers.sh: $PYTHON is older than 3.11; set PYTHON=python3.11" >&2; exit 1; }
    echo "creating $VENV (benchmark-only)"
    "$PYTHON" -m venv "$VENV"
fi

if "$VENV/bin/python" -c "$IMPORTS" 2>/dev/null && [[ -x "$VENV/bin/py-spy" ]]; then
    echo "L2 peers already installed in $VENV"
else
    "$VENV/bin/python" -m pip install --upgrade pip
    "$VENV/bin/python" -m pip install "${PACKAGES[@]}"
fi

"$VENV/bin/python" - <<'PY'
import importlib.metadata as m
print(", ".join(f"{p} {m.version(p)}" for p in ("hftbacktest", "numba", "numpy", "orjson", "py-spy", "pyinstrument")))
PY
