"""Test-session settings: no test may reach the internet (network only on loopback).

The daemon's default market data is live Binance; every daemon the tests
start (in-process or as a subprocess, which inherits this environment) uses
the recording unless a test points it at a loopback exchange explicitly.
"""

from __future__ import annotations

import os

os.environ["GENESIS_MARKET_DATA"] = "recording"
# one BLAS thread, as the daemon runs (genesis/__main__.py): statsmodels' small regressions
# get slower, not faster, with threads fighting over CI's two cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
