"""``genesis.data.download`` against the loopback sandbox, which serves the bundled real bars."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genesis import resources
from genesis.data.download import (
    BinanceKlines,
    CcxtOhlcv,
    DownloadPlan,
    download,
    parse_utc,
)
from genesis.data.loaders import read_bars
from genesis.errors import ConfigError, VenueUnavailable
from genesis.exchange.binance import BinanceRest, RateLimiter, ServerClock
from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.sandbox import SandboxConfig, SandboxServer

ccxt_async = pytest.importorskip("ccxt.async_support")
ROOT = Path(__file__).resolve().parents[3]
NOW_MS = parse_utc("2024-01-01", "now")  # every bundled bar has closed


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    s = SandboxServer(SandboxConfig(api_key="canary-k", api_secret="canary-s", replay=False))
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def binance(server: SandboxServer) -> BinanceKlines:
    rest = BinanceRest(server.rest_url, limiter=RateLimiter(), clock=ServerClock(lambda: 0),
                       wait_rate_limits=True)  # fmt: skip
    return BinanceKlines(rest)


def plan(out: Path, start: str = "2022-01-01", end: str = "2022-01-03", **kw: Any) -> DownloadPlan:
    base: dict[str, Any] = {"symbols": ("BTCUSDT",), "interval": "1m", "out_dir": out}
    base.update(kw)
    return DownloadPlan(start_ms=parse_utc(start, "s"), end_ms=parse_utc(end, "e"), **base)


async def fetch(source: Any, p: DownloadPlan) -> Any:
    try:
        return await download(source, p, now_ms=lambda: NOW_MS, sleep=_no_wait)
    finally:
        await source.close()


async def _no_wait(_: float) -> None:
    return None


def bars(path: Path, symbol: str = "BTCUSDT") -> list[tuple[Any, ...]]:
    return [(b.ts_open, b.open, b.high, b.low, b.close, b.volume) for b in read_bars(path, symbol)]


def bundled(start: str, end: str) -> list[tuple[Any, ...]]:
    lo, hi = parse_utc(start, "s") * 10**6, parse_utc(end, "e") * 10**6
    return [b for b in bars(resources.BTCUSDT_1M_BARS) if lo <= b[0] < hi]


class FailingAfter:
    """A source whose pages fail (a transient error) from page ``n`` on: a killed download."""

    def __init__(self, inner: Any, n: int) -> None:
        self.inner, self.n, self.name, self.full_pages = inner, n, inner.name, inner.full_pages

    async def resolve(self, symbol: str, interval: str) -> str:
        return str(await self.inner.resolve(symbol, interval))

    async def page(self, *args: Any) -> Any:
        self.n -= 1
        if self.n < 0:
            raise VenueUnavailable("/api/v3/klines: HTTP 0 code None: timeout")
        return await self.inner.page(*args)

    async def close(self) -> None:
        await self.inner.close()


async def test_binance_pages_are_the_bundled_bars(server: SandboxServer, tmp_path: Path) -> None:
    """Two days of 1m klines come in 3 pages and equal the bundled file's bars exactly."""
    [result] = await fetch(binance(server), plan(tmp_path))
    assert (result.added, result.gaps) == (2880, 0)
    assert server.requests.count("GET", "/api/v3/klines") == 3
    assert bars(result.path) == bundled("2022-01-01", "2022-01-03")
    assert result.path.name == "binance-btcusdt-1m.csv"


async def test_interrupted_then_resumed_is_byte_identical(
    server: SandboxServer, tmp_path: Path
) -> None:
    """A download failing after one page keeps it; a torn line is cut; the rerun completes it."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    await fetch(binance(server), plan(whole))
    with pytest.raises(VenueUnavailable, match="1000 new bar"):
        await fetch(FailingAfter(binance(server), 1), plan(cut, attempts=2))
    path = cut / "binance-btcusdt-1m.csv"
    assert len(bars(path)) == 1000
    with path.open("a") as handle:
        handle.write("2022-01-01 16:40:00+00:00,4")  # killed inside a write
    [again] = await fetch(binance(server), plan(cut))
    assert again.added == 1880
    assert path.read_bytes() == (whole / path.name).read_bytes()


async def test_rerun_with_nothing_new_adds_nothing(server: SandboxServer, tmp_path: Path) -> None:
    """A finished file is left as it is: no duplicate bars."""
    await fetch(binance(server), plan(tmp_path))
    before = (tmp_path / "binance-btcusdt-1m.csv").read_bytes()
    [result] = await fetch(binance(server), plan(tmp_path))
    assert (result.added, (tmp_path / "binance-btcusdt-1m.csv").read_bytes()) == (0, before)


async def test_parquet_resumed_equals_whole_and_reads_as_csv(
    server: SandboxServer, tmp_path: Path
) -> None:
    """Parquet: the same bars as the CSV; an interrupted run resumes to the same bytes."""
    pytest.importorskip("pyarrow")
    csv_dir, whole, cut = tmp_path / "csv", tmp_path / "whole", tmp_path / "cut"
    await fetch(binance(server), plan(csv_dir))
    await fetch(binance(server), plan(whole, file_format="parquet"))
    with pytest.raises(VenueUnavailable):
        await fetch(FailingAfter(binance(server), 2), plan(cut, file_format="parquet", attempts=1))
    assert (cut / "binance-btcusdt-1m.parquet.part").exists()
    await fetch(binance(server), plan(cut, file_format="parquet"))
    name = "binance-btcusdt-1m.parquet"
    assert (cut / name).read_bytes() == (whole / name).read_bytes()
    assert not (cut / f"{name}.part").exists()
    assert bars(whole / name) == bars(csv_dir / "binance-btcusdt-1m.csv")


async def test_gaps_the_venue_leaves_are_kept(server: SandboxServer, tmp_path: Path) -> None:
    """ADABTC's bundled 5m series lacks 40 bars: the download has the same 5,720, 40 gaps."""
    p = plan(tmp_path, "2018-01-10", "2018-02-01", symbols=("ADABTC",), interval="5m")
    [result] = await fetch(binance(server), p)
    assert (result.added, result.gaps) == (5720, 40)
    assert bars(result.path, "ADABTC") == bars(resources.ALTBTC_5M_BARS["ADABTC"], "ADABTC")


async def test_ccxt_fetch_ohlcv_gives_the_native_bytes(
    server: SandboxServer, tmp_path: Path
) -> None:
    """ccxt's binance class on the sandbox, paged by since, writes the native client's file."""
    exchange = ccxt_async.binance(
        {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}}
    )
    base = f"{server.rest_url}/api/v3"
    exchange.urls["api"] = {**exchange.urls["api"], "public": base, "private": base}
    native, viaccxt = tmp_path / "native", tmp_path / "ccxt"
    await fetch(binance(server), plan(native, interval="5m", end="2022-01-05"))
    p = plan(viaccxt, interval="5m", end="2022-01-05", symbols=("BTC/USDT",))
    [result] = await fetch(CcxtOhlcv(CcxtSession(exchange, "binance")), p)
    assert result.added == 1152
    name = "binance-btcusdt-5m.csv"
    assert (viaccxt / name).read_bytes() == (native / name).read_bytes()


async def test_unknown_symbol_is_a_config_error(server: SandboxServer, tmp_path: Path) -> None:
    """Binance's -1121 becomes a ConfigError naming the symbol."""
    with pytest.raises(ConfigError, match="NOPEUSDT"):
        await fetch(binance(server), plan(tmp_path, symbols=("NOPEUSDT",)))


def test_bad_plans_are_refused(tmp_path: Path) -> None:
    """An unknown interval or a start not before the end is refused before any request."""
    with pytest.raises(ConfigError, match="--interval '7m'"):
        plan(tmp_path, interval="7m")
    with pytest.raises(ConfigError, match="not before --end"):
        plan(tmp_path, start="2022-01-03", end="2022-01-01")
    with pytest.raises(ConfigError, match="--start 'yesterday'"):
        parse_utc("yesterday", "--start")


async def _genesis(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "genesis", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_download_then_backtest(server: SandboxServer, tmp_path: Path) -> None:
    """The CLI downloads CSV and Parquet; `backtest --data` runs on each."""
    common = ["--rest-url", server.rest_url, "--symbols", "BTCUSDT", "--interval", "1m",
              "--start", "2022-01-01", "--end", "2022-01-02", "--out", str(tmp_path)]  # fmt: skip
    for fmt in ("csv", "parquet"):
        code, out, err = await _genesis("download", *common, "--format", fmt)
        assert code == 0, err
        line = json.loads(out)
        assert (line["added"], line["last"]) == (1440, "2022-01-01 23:59:00+00:00")
        code, out, err = await _genesis("backtest", "--strategy", "sma_cross", "--data",
                                        line["data"], "--out", str(tmp_path / fmt))  # fmt: skip
        assert code == 0, err
    metrics = [json.loads((tmp_path / f / "metrics.json").read_text()) for f in ("csv", "parquet")]
    assert metrics[0] == metrics[1]


async def test_cli_errors_are_one_line_exit_2(server: SandboxServer, tmp_path: Path) -> None:
    """Unknown venue, unknown symbol, start after end: one stderr line, exit 2."""
    base = ["download", "--rest-url", server.rest_url, "--out", str(tmp_path)]
    cases = [
        (["--venue", "nosuchvenue", "--symbols", "BTCUSDT", "--start", "2022-01-01"], "nosuch"),
        (["--symbols", "NOPEUSDT", "--start", "2022-01-01", "--end", "2022-01-02"], "NOPEUSDT"),
        (["--symbols", "BTCUSDT", "--start", "2022-01-02", "--end", "2022-01-01"], "not before"),
    ]
    for args, word in cases:
        code, _, err = await _genesis(*base, *args)
        assert (code, len(err.strip().splitlines())) == (2, 1), err
        assert word in err


def test_decimal_text_is_exact() -> None:
    """Venue text keeps its value with trailing zeros dropped (no float on the way)."""
    from genesis.data.barfile import bar_row

    row = bar_row(0, ["46319.00000000", "0.09840000", "1E-8", "0", "12.5"], "x")
    assert row == (0, "46319", "0.0984", "0.00000001", "0", "12.5")
    assert Decimal(row[2]) == Decimal("0.0984")
