#!/usr/bin/env bash
# Create the BENCHMARK-ONLY virtualenv .bench-venv at the repo root and install
# the peer engines into it: backtesting.py, backtrader, NautilusTrader (pandas 2.x).
#
# These packages are never Genesis dependencies: they are not in pyproject.toml,
# .bench-venv is gitignored, and only benchmarks/backtest_vs_peers.py uses them
# (it runs each peer in a subprocess with .bench-venv/bin/python).
#
# Idempotent: an existing venv is reused, and pip is only called when one of the
# peers is missing. Usage: benchmarks/setup_peers.sh   (PYTHON=python3.11 to choose
# the interpreter the venv is built from; it must be 3.11 or newer).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.bench-venv"
PYTHON="${PYTHON:-python3}"
PACKAGES=(backtesting backtrader nautilus_trader "pandas<3")
IMPORTS="import backtesting, backtrader, nautilus_trader, pandas; assert pandas.__version__ < '3'"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
        || { echo "setup_peers.sh: $PYTHON is older than 3.11; set PYTHON=python3.11" >&2; exit 1; }
    echo "creating $VENV (benchmark-only)"
    "$PYTHON" -m venv "$VENV"
fi

if "$VENV/bin/python" -c "$IMPORTS" 2>/dev/null; then
    echo "peers already installed in $VENV"
else
    "$VENV/bin/python" -m pip install --upgrade pip
    "$VENV/bin/python" -m pip install "${PACKAGES[@]}"
fi

"$VENV/bin/python" - <<'EOF'
import importlib.metadata as m
print(", ".join(f"{p} {m.version(p)}" for p in ("backtesting", "backtrader", "nautilus_trader", "pandas")))
EOF
