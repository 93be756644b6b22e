"""The strategy of docs/strategies/write-your-own.md, read from the page and run.

Every block the page marks ``<!-- example: NAME -->`` ... ``<!-- /example -->`` is
taken verbatim: ``dip_buyer.py`` is written to a temporary directory, the page's
backtest commands run there in a subprocess (``python`` replaced by this
interpreter), as a reader runs them; the YAML config goes through the loader and
the Harness test is executed. Data: the bundled BTCUSDT month (45,031 one-minute
bars, 2021-12-31 23:01 to 2022-02-01 05:31 UTC), 1,000 USDT, the Sniper tier,
10 bps taker fees. The figures pinned here are the ones the page quotes: a change
that moves them must update both.
"""

from __future__ import annotations

import csv
import importlib
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from genesis.config.loader import parse_strategy_config
from genesis.core.enums import Side
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.base import Strategy
from genesis.testing.builders import Harness, real_bars

D = Decimal
PAGE = Path(__file__).parents[3] / "docs" / "strategies" / "write-your-own.md"
_BLOCK = re.compile(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```\n<!-- /example -->", re.DOTALL)
MONTH = real_bars()
CUT = 15_012  # bars before 2022-01-11 09:13 UTC: long, with its stop and target working


def _blocks() -> dict[str, str]:
    return dict(_BLOCK.findall(PAGE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the page's dip_buyer.py, as the reader saves it."""
    directory = tmp_path_factory.mktemp("dip")
    (directory / "dip_buyer.py").write_text(_blocks()["dip_buyer.py"], encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def runs(workdir: Path) -> dict[str, Path]:
    """The page's backtest commands, run from ``workdir``; their ``--out`` directories."""
    outs = {}
    for line in _blocks()["backtest.sh"].splitlines():
        argv = shlex.split(line)
        assert argv[:3] == ["python", "-m", "genesis"]
        subprocess.run(
            [sys.executable, *argv[1:], "--quiet"], cwd=workdir, check=True, capture_output=True
        )
        outs[argv[argv.index("--out") + 1]] = workdir / argv[argv.index("--out") + 1]
    return outs


@pytest.fixture(scope="module")
def module(workdir: Path) -> Iterator[ModuleType]:
    """dip_buyer imported in this process (which registers ``dip_buyer``)."""
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module("dip_buyer")
    finally:
        # the module stays imported: a second import would register the name twice
        sys.path.remove(str(workdir))


def _results(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    perf = json.loads((out / "performance.json").read_text())["dip_buyer:DipBuyer"]
    return perf, json.loads((out / "metrics.json").read_text())


def _harness(cls: type[Strategy[Any]]) -> Harness:
    return Harness.build(cls, cls.Params(), cash=D(1000), tier=Tier.SNIPER, taker_bps=D(10))


def test_the_page_has_its_four_blocks() -> None:
    """The strategy, the backtest commands, the YAML config and the Harness test."""
    assert sorted(_blocks()) == [
        "backtest.sh", "dip_buyer.py", "sniper-dip-btc.yaml", "test_dip_buyer.py",
    ]  # fmt: skip


def test_backtest_figures_are_pinned(runs: dict[str, Path]) -> None:
    """240 round trips, 132 won, 1,000 USDT ends at 991.3388686022; nothing refused."""
    perf, metrics = _results(runs["out"])

    assert (perf["trades"], perf["wins"], perf["losses"], perf["fills"]) == (240, 132, 108, 480)
    assert (perf["realized_pnl"], perf["fees"]) == ("-8.6611313978", "9.4517891978")
    assert (metrics["final_equity"], metrics["rejected_orders"]) == ("991.3388686022", 0)
    assert perf["win_rate"] == 0.55


def test_fills_csv_is_as_quoted(runs: dict[str, Path]) -> None:
    """480 fills, buys and sells alternating; the first round trip as the page shows it."""
    with (runs["out"] / "fills.csv").open(newline="", encoding="utf-8") as fh:
        fills = list(csv.DictReader(fh))

    assert len(fills) == 480
    assert [f["side"] for f in fills] == ["BUY", "SELL"] * 240
    assert [(f["time"], f["quantity"], f["price"], f["fee"]) for f in fills[:2]] == [
        ("2022-01-01 10:32:00", "0.00042", "46850.0", "0.019677"),
        ("2022-01-01 11:42:00", "0.00042", "47004.0", "0.01974168"),
    ]
    assert fills[0]["client_order_id"] == "dip_buyer:DipBuyer-1641033120000000000-1"


def test_regime_gated_figures_are_pinned(runs: dict[str, Path]) -> None:
    """Gated to RANGING: 118 round trips, 68 won, 995.6321415099, 2,652 entries refused."""
    perf, metrics = _results(runs["out-ranging"])

    assert (perf["trades"], perf["wins"]) == (118, 68)
    assert (metrics["final_equity"], metrics["rejected_orders"]) == ("995.6321415099", 2652)


def test_the_yaml_config_loads(module: ModuleType) -> None:
    """The page's config validates: Sniper, BTCUSDT, stop required, gated to ranging."""
    config = parse_strategy_config(
        _blocks()["sniper-dip-btc.yaml"], "sniper-dip-btc.yaml", default_id="sniper-dip-btc"
    )

    assert (config.id, config.tier, config.instruments) == (
        "sniper-dip-btc", Tier.SNIPER, ("BTCUSDT",),
    )  # fmt: skip
    assert (config.requires_stop_loss, config.regimes) == (True, ("ranging",))
    assert module.DipParams.model_validate(config.params) == module.DipParams()


def test_registration_names_the_class_and_its_tiers(module: ModuleType) -> None:
    """Imported, the module registers ``dip_buyer`` for the Sniper and Hunter tiers."""
    spec = registry.get("dip_buyer")

    assert (spec.cls, spec.tiers) == (module.DipBuyer, (Tier.SNIPER, Tier.HUNTER))
    assert registry.get("dip_buyer:DipBuyer").tiers == spec.tiers


def test_the_pages_harness_test_passes(module: ModuleType) -> None:
    """The page's Harness test, executed as written, passes."""
    namespace: dict[str, Any] = {}
    exec(_blocks()["test_dip_buyer.py"], namespace)  # the page's own code, verbatim

    namespace["test_dip_buyer_month"]()


def test_every_entry_carries_confidence_stop_and_target(module: ModuleType) -> None:
    """Each buy: confidence 0.6 to 1, stop under its fill, target above it."""
    harness = _harness(module.DipBuyer).run(MONTH)
    entries = [o for o in harness.kernel.oms if o.side is Side.BUY]

    assert len(entries) == 240
    assert all(0.6 <= (o.confidence or 0) <= 1 for o in entries)
    assert all(o.stop_loss < o.avg_px < o.take_profit for o in entries)  # type: ignore[operator]


def test_a_restart_mid_position_resumes_the_same_run(module: ModuleType) -> None:
    """Swapped for an instance restored from its snapshot while long: the same orders, 991.34."""
    whole = _harness(module.DipBuyer).run(MONTH)
    harness = _harness(module.DipBuyer).run(MONTH[:CUT])
    assert harness.kernel.portfolio.position_qty("BTCUSDT") == D("0.00047")

    harness.kernel.replace_params("s1", module.DipParams())
    harness.run(MONTH[CUT:])

    assert [(o.client_order_id, o.avg_px) for o in harness.kernel.oms] == [
        (o.client_order_id, o.avg_px) for o in whole.kernel.oms
    ]
    assert harness.kernel.portfolio.equity() == D("991.3388686022")


def test_without_its_state_the_restart_trades_differently(module: ModuleType) -> None:
    """A version whose snapshot forgets the closes warms up again: 239 trades, not 240."""

    class Forgetful(module.DipBuyer):  # type: ignore[misc, name-defined]
        def _state(self) -> dict[str, Any]:
            return {"closes": []}

    harness = _harness(Forgetful).run(MONTH[:CUT])

    harness.kernel.replace_params("s1", module.DipParams())
    harness.run(MONTH[CUT:])

    assert harness.kernel.performance.of("s1").trades == 239
    assert harness.kernel.portfolio.equity() == D("991.2185157022")
