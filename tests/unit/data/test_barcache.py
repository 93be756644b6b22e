"""The parsed-bar cache gives the parser's bars, and a backtest the same bytes, on every
bundled bar file; bad files, stale and corrupt entries never reach a run."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main
from genesis.data import barcache
from genesis.data.barcache import cache_dir, cached_bars, entry_path
from genesis.data.loaders import infer_interval_ns, read_bars
from genesis.errors import DataError

ROOT = Path(__file__).resolve().parents[3]
# every bar file the repository ships (quote-bar, tick and book files are not bars)
BAR_FILES = sorted(
    p
    for p in [*Path(resources.__file__).parent.glob("*.csv.gz"), *(ROOT / "tests/data").glob("*")]
    if ("-1m-" in p.name or "-5m-" in p.name)
    and p.name.endswith(".csv.gz")
    and not p.name.endswith("-quote.csv.gz")
)
MINUTE_NS = 60_000_000_000


def test_the_bundled_bar_files_are_all_found() -> None:
    """13 bar files: the month, six 5-minute BTC pairs, four trade-bar days, GBPUSD bid/ask."""
    assert len(BAR_FILES) == 13
    assert Path(resources.BTCUSDT_1M_BARS) in BAR_FILES


@pytest.mark.parametrize("path", BAR_FILES, ids=lambda p: p.name)
def test_cached_bars_equal_the_parsed_bars(path: Path, tmp_path: Path) -> None:
    """Parsed (writing the entry), then read back: the same bars, field for field."""
    interval = infer_interval_ns(path)
    parsed = list(read_bars(path, "SYM", interval_ns=interval))
    first = list(cached_bars(path, "SYM", interval, tmp_path))
    assert entry_path(tmp_path, path, "SYM", interval).is_file()
    again = list(cached_bars(path, "SYM", interval, tmp_path))
    assert first == parsed
    assert again == parsed
    assert [repr(b) for b in again] == [repr(b) for b in parsed]  # each Decimal's exponent too


@pytest.mark.parametrize("path", BAR_FILES, ids=lambda p: p.name)
def test_a_backtest_writes_the_same_bytes_with_and_without_the_cache(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache off, cold (parse and write the entry) and warm (read it): identical files."""
    outputs = []
    for run, setting in enumerate(("off", str(tmp_path / "cache"), str(tmp_path / "cache"))):
        monkeypatch.setenv("GENESIS_CACHE_DIR", setting)
        out = tmp_path / f"out{run}"
        argv = ["backtest", "--data", str(path), "--strategy", "sma_cross", "--param", "fast=5"]
        assert main([*argv, "--param", "slow=20", "--cash", "1000000", "--out", str(out)]) == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert len(list((tmp_path / "cache" / "bars").iterdir())) == 1
    assert outputs[0] == outputs[1] == outputs[2]
    assert {"trades.csv", "equity.csv", "fills.csv", "metrics.json"} <= set(outputs[0])


def _bars_file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(r + "\n" for r in rows))
    return path


def test_a_bad_file_writes_no_entry_and_fails_every_time(tmp_path: Path) -> None:
    """The parser's error, with its line, on each run: an entry exists only for a good file."""
    path = _bars_file(
        tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5", "2022-01-01 00:01:00,1,2,1,NaN,5"]
    )
    for _ in range(2):
        with pytest.raises(DataError, match=r"bars.csv:3: "):
            list(cached_bars(path, "SYM", MINUTE_NS, tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()


def test_a_run_stopped_early_writes_no_entry(tmp_path: Path) -> None:
    """Only a file read to its end is cached (a half entry would lose bars)."""
    path = _bars_file(tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5", "2022-01-01 00:01:00,2,3,1,2,5"])
    bars = cached_bars(path, "SYM", MINUTE_NS, tmp_path / "cache")
    assert next(bars).close == 2
    bars.close()  # type: ignore[attr-defined]
    assert not entry_path(tmp_path / "cache", path, "SYM", MINUTE_NS).exists()


def test_a_changed_file_or_other_stamp_is_a_new_entry(tmp_path: Path) -> None:
    """The entry is named by the file's bytes, the instrument id and the interval."""
    path = _bars_file(tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5"])
    first = entry_path(tmp_path, path, "SYM", MINUTE_NS)
    assert entry_path(tmp_path, path, "OTHER", MINUTE_NS) != first
    assert entry_path(tmp_path, path, "SYM", 2 * MINUTE_NS) != first
    assert [b.close for b in cached_bars(path, "SYM", MINUTE_NS, tmp_path)] == [2]
    _bars_file(tmp_path, ["2022-01-01 00:00:00,1,3,1,3,5"])
    assert entry_path(tmp_path, path, "SYM", MINUTE_NS) != first
    assert [b.close for b in cached_bars(path, "SYM", MINUTE_NS, tmp_path)] == [3]


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    """Bytes that do not decode (a disk error, an older format) are parsed over."""
    path = _bars_file(tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5"])
    entry = entry_path(tmp_path, path, "SYM", MINUTE_NS)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"\x93not an entry")
    assert [b.close for b in cached_bars(path, "SYM", MINUTE_NS, tmp_path)] == [2]
    assert entry.read_bytes() != b"\x93not an entry"
    assert [b.close for b in cached_bars(path, "SYM", MINUTE_NS, tmp_path)] == [2]


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    """Past MAX_ENTRIES the oldest entries go (by modification time)."""
    path = _bars_file(tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5"])
    symbols = [f"S{i}" for i in range(barcache.MAX_ENTRIES + 2)]
    for age, symbol in enumerate(symbols):
        list(cached_bars(path, symbol, MINUTE_NS, tmp_path))
        entry = entry_path(tmp_path, path, symbol, MINUTE_NS)
        os.utime(entry, ns=(age * 10**9, age * 10**9))  # strictly older to newer
    kept = sorted(p.name for p in (tmp_path / "bars").iterdir())
    wanted = sorted(entry_path(tmp_path, path, s, MINUTE_NS).name for s in symbols[2:])
    assert kept == wanted


def test_an_unwritable_directory_only_costs_the_speed(tmp_path: Path) -> None:
    """A cache directory that is a file: the bars are parsed and nothing fails."""
    path = _bars_file(tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5"])
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert [b.close for b in cached_bars(path, "SYM", MINUTE_NS, blocker)] == [2]


def test_gzip_and_plain_files_of_the_same_bars_read_the_same(tmp_path: Path) -> None:
    """The entry is keyed by the bytes on disk; the bars are the parser's either way."""
    plain = _bars_file(tmp_path, ["2022-01-01 00:00:00,1,2,1,2,5.50"])
    packed = tmp_path / "bars.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed, plain, packed):
        assert [str(b.volume) for b in cached_bars(path, "S", MINUTE_NS, tmp_path)] == ["5.50"]


def test_the_directory_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GENESIS_CACHE_DIR names it or turns it off; else XDG_CACHE_HOME, else ~/.cache."""
    monkeypatch.setenv("GENESIS_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.setenv("GENESIS_CACHE_DIR", "off")
    assert cache_dir() is None
    monkeypatch.delenv("GENESIS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "genesis"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "genesis"
