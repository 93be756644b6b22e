"""The backtest's attribution.json: new beside the pinned files, deterministic, consistent."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

from genesis import resources
from genesis.__main__ import main

_ARGS = ["backtest", "--strategy", "sma_cross", "--symbol", "BTCUSDT", "--param", "fast=10",
         "--param", "slow=30", "--param", "quantity=1", "--cash", "1000000", "--fee-bps", "10",
         "--quiet"]  # fmt: skip


def _run(tmp_path: Path, name: str) -> Path:
    data = tmp_path / "bars.csv"
    if not data.exists():
        with gzip.open(resources.BTCUSDT_1M_BARS, "rt", encoding="utf-8") as fh:
            data.write_text("".join(next(fh) for _ in range(3000)), encoding="utf-8")
    out = tmp_path / name
    assert main([*_ARGS, "--data", str(data), "--out", str(out)]) == 0
    return out


def test_attribution_json_agrees_with_the_run_and_repeats_byte_for_byte(tmp_path: Path) -> None:
    """Two runs write the same attribution.json; its fees and fill count are the run's."""
    first, second = _run(tmp_path, "a"), _run(tmp_path, "b")

    text = (first / "attribution.json").read_text()

    assert text == (second / "attribution.json").read_text()
    report = json.loads(text)
    perf = json.loads((first / "performance.json").read_text())["sma_cross"]
    parts = report["attribution"]["strategies"]["sma_cross"]["by_quote"]["USDT"]
    assert Decimal(parts["fees"]) == -Decimal(perf["fees"])
    assert report["execution_quality"]["overall"]["fills"] == perf["fills"]
    assert report["capacity"]["sma_cross"]["BTCUSDT"]["method"] in {"fills", "none"}
