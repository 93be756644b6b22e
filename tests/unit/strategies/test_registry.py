"""Strategy registry: built-in names, "pkg.mod:Class" paths, and parameter validation."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from genesis.errors import ConfigError
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.strategies.sniper.momentum_breakout import MomentumBreakout


def test_builtin_names_are_known() -> None:
    """Both built-in strategies are registered by name."""
    assert {"sma_cross", "momentum_breakout"} <= set(registry.known_names())


def test_the_builtin_name_table_names_the_module_registering_each_name() -> None:
    """``BUILTIN_NAMES`` lists every built-in name with the module that registers it."""
    modules = {n: registry.get(n).cls.__module__ for n in registry.known_names()}
    builtins = {n: m for n, m in modules.items() if m.startswith("genesis.strategies.")}
    assert builtins == registry.BUILTIN_NAMES


def test_a_builtin_name_imports_only_its_module() -> None:
    """A fresh interpreter resolving sma_cross loads no other strategy module."""
    code = (
        "import sys; from genesis.strategies import registry; registry.get('sma_cross');"
        " print(sorted(set(registry.BUILTIN_NAMES.values()) & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['genesis.strategies.reference']"


def test_registered_name_resolves_to_class_params_and_tiers() -> None:
    """momentum_breakout is a Sniper strategy with its own params model."""
    spec = registry.get("momentum_breakout")

    assert (spec.cls, spec.params, spec.tiers) == (
        MomentumBreakout,
        MomentumBreakout.Params,
        (Tier.SNIPER,),
    )


def test_unknown_name_lists_the_known_names() -> None:
    """An unknown strategy name is a ConfigError naming it and every known name."""
    with pytest.raises(ConfigError) as caught:
        registry.get("momentum_breakot")

    message = str(caught.value)
    assert "'momentum_breakot'" in message
    assert "momentum_breakout" in message.split("known strategies:")[1]
    assert "sma_cross" in message.split("known strategies:")[1]


def test_import_path_resolves_a_strategy_class() -> None:
    """ "genesis.strategies.reference:SmaCross" resolves to that class and its params."""
    spec = registry.get("genesis.strategies.reference:SmaCross")

    assert (spec.cls, spec.params) == (SmaCross, SmaCrossParams)


def test_import_path_to_a_missing_attribute_is_a_config_error() -> None:
    """A path whose class does not exist says which path failed."""
    with pytest.raises(ConfigError, match="genesis.strategies.reference:Nope"):
        registry.get("genesis.strategies.reference:Nope")


def test_import_path_to_a_missing_module_is_a_config_error() -> None:
    """A path whose module does not exist says which path failed."""
    with pytest.raises(ConfigError, match="genesis.nope:X"):
        registry.get("genesis.nope:X")


def test_import_path_to_a_non_strategy_is_a_config_error() -> None:
    """A path to something that is not a Strategy subclass is refused."""
    with pytest.raises(ConfigError, match="not a Strategy subclass"):
        registry.get("genesis.core.enums:Side")


def test_import_path_of_a_registered_class_keeps_its_tiers() -> None:
    """momentum_breakout named by path is still Sniper-only."""
    spec = registry.get("genesis.strategies.sniper.momentum_breakout:MomentumBreakout")

    assert spec.tiers == (Tier.SNIPER,)


def test_registering_a_name_twice_for_another_class_is_refused() -> None:
    """A second class under an existing name is a ConfigError (the registry is unchanged)."""
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("sma_cross", tiers=(Tier.SNIPER,))(MomentumBreakout)

    assert registry.get("sma_cross").cls is SmaCross


def test_parse_params_fills_defaults_and_converts() -> None:
    """A partial mapping gets defaults; "0.5" becomes Decimal("0.5")."""
    params = registry.parse_params(registry.get("sma_cross"), {"fast": 5, "quantity": "0.5"})

    assert params == SmaCrossParams(fast=5, slow=30, quantity=Decimal("0.5"))


def test_parse_params_rejects_an_unknown_key() -> None:
    """A misspelt key is a ConfigError naming the source, the strategy and the key."""
    spec = registry.get("sma_cross")

    with pytest.raises(ConfigError) as caught:
        registry.parse_params(spec, {"slwo": 3}, source="--param")

    assert str(caught.value) == "strategy sma_cross: --param slwo: unknown parameter"


def test_parse_params_rejects_a_wrong_type_with_the_value() -> None:
    """fast="abc" is refused with the field, the reason and the value given."""
    spec = registry.get("sma_cross")

    with pytest.raises(ConfigError) as caught:
        registry.parse_params(spec, {"fast": "abc"})

    message = str(caught.value)
    assert message.startswith("strategy sma_cross: params fast: ")
    assert "valid integer" in message
    assert message.endswith("(was 'abc')")


def test_parse_params_reports_every_problem_in_one_message() -> None:
    """Two bad keys give one ConfigError, one clause each, separated by '; '."""
    spec = registry.get("sma_cross")

    with pytest.raises(ConfigError) as caught:
        registry.parse_params(spec, {"fast": "abc", "slwo": 3})

    assert str(caught.value).count("; ") == 1
    assert "\n" not in str(caught.value)


def test_parse_params_reports_cross_field_rules() -> None:
    """fast >= slow is refused by the model's own rule, with both values."""
    spec = registry.get("sma_cross")

    with pytest.raises(ConfigError, match=r"fast \(20\) must be less than slow \(10\)"):
        registry.parse_params(spec, {"fast": 20, "slow": 10})
