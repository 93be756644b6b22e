"""Strategy YAML files: the bundled ones load; every bad edit names file, line, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis.config import load_strategy_config, load_strategy_configs
from genesis.errors import ConfigError
from genesis.risk.limits import Tier
from genesis.strategies import registry

BUNDLED = Path(__file__).resolve().parents[3] / "config" / "strategies"
GOOD = """\
strategy: sma_cross
tier: sniper
instruments: [BTCUSDT]
params:
  fast: 10
  slow: 30
"""


def _write(tmp_path: Path, text: str, name: str = "sma.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_configs_load() -> None:
    """The configs shipped in config/strategies are valid (params too), ids from file names,
    each named after its tier; every tier has an enabled one."""
    configs = load_strategy_configs(BUNDLED)
    for c in configs:
        registry.parse_params(registry.get(c.strategy), c.params, source=c.id)
        if c.id != "reference-sma-btc":
            assert c.id.startswith(c.tier.value), c.id
    assert {c.tier for c in configs if c.enabled} >= {Tier.SNIPER, Tier.HUNTER}
    assert "reference-sma-btc" in {c.id for c in configs}


def test_version_id_is_stable_and_content_addressed(tmp_path: Path) -> None:
    """The same content gives the same SHA-256; a changed parameter gives another."""
    a = load_strategy_config(_write(tmp_path, GOOD))
    b = load_strategy_config(_write(tmp_path, GOOD.replace("slow: 30", "slow:   30  # same")))
    c = load_strategy_config(_write(tmp_path, GOOD.replace("slow: 30", "slow: 31")))
    assert a.version_id() == b.version_id() != c.version_id()
    assert len(a.version_id()) == 64


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (GOOD.replace("slow: 30", "slow: [30"), "sma.yaml:7: invalid YAML"),
        (GOOD.replace("tier: sniper", "tier: sniperr"), "sma.yaml:2: tier: Input should be"),
        (GOOD + "colour: blue\n", "sma.yaml:7: colour: unknown key"),
        (GOOD.replace("  slow: 30", "  slwo: 30"), "sma.yaml:6: params.slwo: unknown parameter"),
        (
            GOOD.replace("slow: 30", "slow: thirty"),
            "sma.yaml:6: params.slow: Input should be a valid integer",
        ),
        (
            GOOD.replace("slow: 30", "slow: 1"),
            "sma.yaml:6: params.slow: Input should be greater than or equal to 2",
        ),
        (
            GOOD.replace("strategy: sma_cross", "strategy: sma_crossing"),
            "sma.yaml:1: strategy: unknown strategy 'sma_crossing'",
        ),
        (GOOD.replace("[BTCUSDT]", "[]"), "sma.yaml:3: instruments: "),
        (
            GOOD.replace("strategy: sma_cross\n", ""),
            "sma.yaml:1: strategy: required key is missing",
        ),
    ],
)
def test_bad_edit_is_refused_with_file_line_field_and_reason(
    tmp_path: Path, edit: str, expected: str
) -> None:
    """Each kind of mistake is reported where it is."""
    with pytest.raises(ConfigError) as info:
        load_strategy_config(_write(tmp_path, edit))
    assert expected in str(info.value)


def test_strategy_outside_its_tiers_is_refused(tmp_path: Path) -> None:
    """momentum_breakout is a Sniper strategy: a Hunter config for it is refused."""
    text = "strategy: momentum_breakout\ntier: hunter\ninstruments: [BTCUSDT]\n"
    with pytest.raises(
        ConfigError, match=r"mb.yaml:2: tier: momentum_breakout runs in sniper, not hunter"
    ):
        load_strategy_config(_write(tmp_path, text, "mb.yaml"))


def test_duplicate_ids_in_a_directory_are_refused(tmp_path: Path) -> None:
    """Two files claiming one id cannot both run."""
    _write(tmp_path, GOOD + "id: same\n", "a.yaml")
    _write(tmp_path, GOOD + "id: same\n", "b.yaml")
    with pytest.raises(ConfigError, match="id 'same' is already used"):
        load_strategy_configs(tmp_path)
