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

import decimal

import pytest

_DECIMAL_CONTEXT = (decimal.getcontext().prec, decimal.getcontext().rounding)


@pytest.fixture(autouse=True)
def _decimal_context_unchanged() -> object:
    """Money is exact only in the context it was written for: a test (or a library it
    drives) that changes the global Decimal context fails here, and the context is put
    back so the next test is not computed differently."""
    yield
    ctx = decimal.getcontext()
    found = (ctx.prec, ctx.rounding)
    if found != _DECIMAL_CONTEXT:
        ctx.prec, ctx.rounding = _DECIMAL_CONTEXT
        pytest.fail(f"the global Decimal context changed from {_DECIMAL_CONTEXT} to {found}")


@pytest.fixture(autouse=True, scope="session")
def _bar_cache_in_the_session_tmp(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Parsed bar files are cached (genesis.data.barcache) under the session's temporary
    directory, never in the user's ~/.cache; subprocesses inherit the setting."""
    os.environ["GENESIS_CACHE_DIR"] = str(tmp_path_factory.mktemp("genesis-cache"))
    yield
    os.environ.pop("GENESIS_CACHE_DIR", None)
