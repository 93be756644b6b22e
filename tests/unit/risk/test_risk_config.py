"""The risk config file: the shipped file, partial files, and every kind of bad input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import EXIT_USAGE, main
from genesis.errors import ConfigError
from genesis.risk.config import load_risk_config, parse_risk_config
from genesis.risk.limits import TIER_LIMITS, MeasureSettings, Tier

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "risk.yaml"


def test_shipped_file_equals_the_built_in_defaults() -> None:
    """config/risk.yaml spells out the defaults: loading it changes no limit."""
    config = load_risk_config(SHIPPED)

    assert [config.limits(t) for t in Tier] == [TIER_LIMITS[t] for t in Tier]
    assert config.measure_settings() == MeasureSettings()


def test_no_file_gives_the_defaults() -> None:
    """No path (the setting unset) is the built-in table."""
    assert load_risk_config(None).limits(Tier.HUNTER) == TIER_LIMITS[Tier.HUNTER]


def test_a_partial_file_overrides_only_what_it_names() -> None:
    """Hunter's leverage and loss streak change; everything else keeps its default."""
    text = "tiers:\n  hunter:\n    max_leverage: '2'\n    breakers:\n      loss_streak: 3\n"

    limits = parse_risk_config(text, "risk.yaml").limits(Tier.HUNTER)

    assert limits.max_leverage == Decimal(2)
    assert limits.breakers.loss_streak == 3
    assert limits.max_position_pct == TIER_LIMITS[Tier.HUNTER].max_position_pct
    assert limits.breakers.max_orders == TIER_LIMITS[Tier.HUNTER].breakers.max_orders


def test_unknown_key_names_file_line_and_field() -> None:
    """A typo is refused, not ignored."""
    text = "tiers:\n  sniper:\n    max_levrage: '2'\n"

    with pytest.raises(ConfigError, match=r"risk.yaml:3: tiers.sniper.max_levrage: unknown key"):
        parse_risk_config(text, "risk.yaml")


def test_bad_value_names_field_value_and_reason() -> None:
    """A correlation limit of 1.5 is over 1."""
    text = "tiers:\n  strategist:\n    max_correlation: 1.5\n"

    with pytest.raises(ConfigError) as err:
        parse_risk_config(text, "risk.yaml")

    assert "risk.yaml:3: tiers.strategist.max_correlation:" in str(err.value)
    assert "less than or equal to 1" in str(err.value)
    assert "(was 1.5)" in str(err.value)


def test_bad_field_type_is_refused() -> None:
    """max_open_positions must be an integer."""
    text = "tiers:\n  sniper:\n    max_open_positions: many\n"

    with pytest.raises(ConfigError, match=r"max_open_positions: .*\(was 'many'\)"):
        parse_risk_config(text, "risk.yaml")


def test_unknown_tier_is_refused() -> None:
    """Only the three tiers exist."""
    with pytest.raises(ConfigError, match=r"tiers.whale: unknown tier"):
        parse_risk_config("tiers:\n  whale: {}\n", "risk.yaml")


def test_not_yaml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    """Broken YAML names its line; a missing file names the path."""
    with pytest.raises(ConfigError, match=r"risk.yaml:3: invalid YAML"):
        parse_risk_config("tiers:\n  - [\n", "risk.yaml")
    with pytest.raises(ConfigError, match=r"cannot read the risk config"):
        load_risk_config(tmp_path / "absent.yaml")


def test_the_models_are_frozen() -> None:
    """A loaded config cannot be changed afterwards."""
    config = load_risk_config(SHIPPED)

    with pytest.raises(ValueError, match="frozen"):
        config.measures.sample_interval_s = 1  # type: ignore[misc]


def test_the_daemon_refuses_to_start_with_a_bad_risk_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`genesis run --risk-config bad.yaml` stops before anything runs, naming the problem."""
    bad = tmp_path / "risk.yaml"
    bad.write_text("tiers:\n  sniper:\n    max_leverage: '-1'\n", encoding="utf-8")

    code = main(["run", "--tier", "sniper", "--risk-config", str(bad)])

    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert f"genesis run: error: {bad}:3: tiers.sniper.max_leverage:" in err
    assert "greater than 0" in err


def test_the_backtest_refuses_a_bad_risk_file_with_a_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`genesis backtest --tier ... --risk-config bad.yaml` fails the same way."""
    bad = tmp_path / "risk.yaml"
    bad.write_text("tiers:\n  hunter:\n    surprise: 1\n", encoding="utf-8")

    argv = ["backtest", "--strategy", "sma_cross", "--tier", "hunter", "--risk-config", str(bad)]
    code = main([*argv, "--out", str(tmp_path / "out"), "--quiet"])

    assert code == EXIT_USAGE
    assert "tiers.hunter.surprise: unknown key" in capsys.readouterr().err
