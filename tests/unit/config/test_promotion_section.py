"""The ``promotion:`` section of a strategy file: loaded, validated with file:line, and
absent from the version hash of files that do not have it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis.config import load_strategy_config
from genesis.errors import ConfigError

BASE = """\
strategy: sma_cross
tier: sniper
instruments: [BTCUSDT]
params:
  fast: 10
  slow: 30
"""
SECTION = """\
promotion:
  min_trades: 300
  min_days: 7
  min_sharpe: 0.5
  max_drawdown: 0.1
  capital: "100000"
  target: "20000"
  expected_trade_pnl: ["-22.210707", "-0.896206"]
"""


def test_section_loads_with_default_steps(tmp_path: Path) -> None:
    """Money as Decimal, the four default steps, seven days between steps."""
    path = tmp_path / "sma.yaml"
    path.write_text(BASE + SECTION)

    promotion = load_strategy_config(path).promotion

    assert promotion is not None
    assert (promotion.capital, promotion.target) == (Decimal(100000), Decimal(20000))
    assert promotion.steps == (Decimal("0.10"), Decimal("0.25"), Decimal("0.50"), Decimal(1))
    assert promotion.expected_trade_pnl == (Decimal("-22.210707"), Decimal("-0.896206"))
    assert promotion.step_days == 7


def test_a_file_without_the_section_keeps_its_version_hash(tmp_path: Path) -> None:
    """The hash of a config without promotion: is the one main computed before the field existed."""
    path = tmp_path / "sma.yaml"
    path.write_text(BASE)

    assert load_strategy_config(path).version_id() == (
        "7943640f3172df70903278852874d2aa238b60cff1d90ca4957e3bb50fa7adc3"
    )


def test_bad_section_names_file_line_and_field(tmp_path: Path) -> None:
    """A negative min_trades is refused at its line."""
    path = tmp_path / "sma.yaml"
    path.write_text(BASE + SECTION.replace("min_trades: 300", "min_trades: -1"))

    with pytest.raises(ConfigError, match=r"sma.yaml:\d+: promotion.min_trades: .*greater"):
        load_strategy_config(path)
