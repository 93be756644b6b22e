"""``python -m genesis report RUN_DIR`` on the reference backtest, an optimize and a
walk-forward directory: the page's sections follow the files, its numbers are the
files' numbers, and headless chromium renders it with no console error."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from genesis import resources
from genesis.__main__ import main
from genesis.backtesting.report import DAILY_PAIRS

BARS = str(resources.BTCUSDT_1M_BARS)
REFERENCE = [
    "backtest", "--strategy", "sma_cross", "--symbol", "BTCUSDT", "--param", "fast=10",
    "--param", "slow=30", "--param", "quantity=1", "--cash", "1000000", "--fee-bps", "10",
    "--quiet", "--data", BARS,
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ("metrics", "equity", "drawdown", "monthly", "trades")
EXTRAS = ("optimize", "walkforward", "montecarlo")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    assert main([*REFERENCE, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def optimize_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("optimize")
    args = ["optimize", "--strategy", "sma_cross", "--grid", "fast=5,10", "--grid", "slow=20,30",
            "--param", "quantity=1", "--fee-bps", "10", "--workers", "1", "--data", BARS,
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def walkforward_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("walkforward")
    args = ["walkforward", "--strategy", "sma_cross", "--grid", "fast=5,10", "--grid",
            "slow=15,30", "--param", "quantity=1", "--objective", "total_return", "--train",
            "3d", "--test", "4d", "--workers", "1", "--data", BARS, "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    return out


def _genesis(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "genesis", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


class _Tables(HTMLParser):
    """Collects each ``<table id=...>``'s rows as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def _refuse(route: Any, errors: list[str]) -> None:
    """The page must need no network: any request is an error, and is refused."""
    errors.append(f"request {route.request.url}")
    route.abort()


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)">', page)


def test_backtest_report_has_its_sections_and_the_metrics_of_metrics_json(
    run_dir: Path, tmp_path: Path
) -> None:
    """Metrics (per-bar beside daily), equity, drawdown, monthly, trades; no extras."""
    out = tmp_path / "page.html"
    done = _genesis("report", str(run_dir), "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert _sections(page) == list(SECTIONS)
    assert page.count("<script") == 1 + 4  # plotly.js once, then one script per figure
    assert "<script src=" not in page
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = {r[0]: (r[1], r[2]) for r in _tables(page)["metrics-table"][1:]}
    shown = {key: per_bar for key, (per_bar, _) in rows.items()}
    shown |= {DAILY_PAIRS[key]: daily for key, (_, daily) in rows.items() if key in DAILY_PAIRS}
    assert shown == {k: repr(v) if isinstance(v, float) else str(v) for k, v in metrics.items()}
    assert rows["sharpe"] == (repr(metrics["sharpe"]), repr(metrics["daily_sharpe"]))
    assert rows["annual_return"] == (repr(metrics["annual_return"]), repr(metrics["daily_cagr"]))
    assert rows["sharpe"] == ("-57.517413458641485", "-47.45208032597047")
    monthly = _tables(page)["monthly-table"][1:]
    assert monthly == [
        ["2021-12", "-0.00015579700000001306"],
        ["2022-01", "-0.09619406224631588"],
        ["2022-02", "-0.000887375174273175"],
    ]
    assert "45,031 rows, 4,143 plotted." in page
    assert "945 closed trades." in page


def test_montecarlo_fan_appears_once_montecarlo_ran(run_dir: Path, tmp_path: Path) -> None:
    """montecarlo.json in the directory adds the fan and its percentile table."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert _genesis("montecarlo", str(copy), "--seed", "7", "--quiet").returncode == 0

    done = _genesis("report", str(copy))

    assert done.returncode == 0, done.stderr
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert _sections(page) == [*SECTIONS, "montecarlo"]
    table = _tables(page)["montecarlo-table"]
    assert table[0] == ["", "5%", "50%", "95%"]
    assert table[1] == ["final equity", "894475.431575", "902902.16475", "911404.87725"]


def test_optimize_directory_gives_the_heatmap_only(optimize_dir: Path) -> None:
    """An optimize --out directory: the objective over fast x slow, ranked table."""
    done = _genesis("report", str(optimize_dir))

    assert done.returncode == 0, done.stderr
    page = (optimize_dir / "report.html").read_text(encoding="utf-8")
    assert _sections(page) == ["optimize"]
    table = _tables(page)["optimize-table"]
    assert table[0] == ["rank", "fast", "slow", "sharpe"]
    assert table[1:] == [
        ["1", "10", "30", "-57.517413458641485"],  # the reference run's own per-bar Sharpe
        ["2", "5", "30", "-65.04827180492669"],
        ["3", "10", "20", "-76.95068432758414"],
        ["4", "5", "20", "-78.53764189797732"],
    ]
    assert "sharpe (max) over fast × slow; 4 valid points." in page


def test_walkforward_directory_gives_windows_and_the_stitched_curve(walkforward_dir: Path) -> None:
    """Seven rolling windows' OOS returns, the stitched curve and its metrics."""
    done = _genesis("report", str(walkforward_dir))

    assert done.returncode == 0, done.stderr
    page = (walkforward_dir / "report.html").read_text(encoding="utf-8")
    assert _sections(page) == ["walkforward"]
    tables = _tables(page)
    assert len(tables["walkforward-table"]) == 1 + 7
    stitched = {r[0]: r[1] for r in tables["walkforward-metrics"][1:]}
    assert stitched["final_equity"] == "986663.181907"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "no such run directory"),
        ((), "nothing to report"),
        (("metrics.json",), "no trades.csv"),
    ],
)
def test_bad_run_dir_is_one_line_and_exit_2(
    run_dir: Path, tmp_path: Path, files: tuple[str, ...] | None, message: str
) -> None:
    """A missing directory, an empty one, or half a backtest: one line, exit 2."""
    target = tmp_path / "run"
    if files is not None:
        target.mkdir()
        for name in files:
            shutil.copy(run_dir / name, target / name)

    done = _genesis("report", str(target))

    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (target / "report.html").exists()


def test_chromium_renders_every_plot_with_no_console_error(run_dir: Path, tmp_path: Path) -> None:
    """The page opened from file:// in headless chromium: no error, each plot drew its svg."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert _genesis("montecarlo", str(copy), "--quiet").returncode == 0
    assert _genesis("report", str(copy)).returncode == 0
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.route("http*://**", lambda route: _refuse(route, errors))
            page.goto((copy / "report.html").as_uri())
            page.wait_for_selector(".plotly-graph-div .main-svg", timeout=20_000)
            plots = page.locator(".plotly-graph-div").count()
            drawn = page.evaluate(
                "[...document.querySelectorAll('.plotly-graph-div')]"
                ".filter(d => d._fullLayout && d.querySelector('svg.main-svg')).length"
            )
        finally:
            browser.close()
    assert errors == []
    assert plots == 5
    assert drawn == 5
