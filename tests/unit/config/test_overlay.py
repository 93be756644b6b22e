"""Environment overlays (CF-2): deep merge over the base file, validated as one document,
errors in the overlay's own file and line, stray overlays refused, and
``config diff --env`` showing the merge's changes per key; the shipped overlays load."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from genesis.__main__ import build_parser
from genesis.config.cli import run
from genesis.config.loader import load_strategy_config, load_strategy_configs
from genesis.config.overlay import changes, deep_merge, overlay_dir
from genesis.daemon.reload import ConfigChange, ConfigWatcher
from genesis.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[3] / "config"
BASE = """\
strategy: sma_cross
tier: sniper
instruments: [BTCUSDT]
params:
  fast: 10
  slow: 30
  quantity: "0.001"
"""


def _tree(tmp_path: Path, overlay: str, env: str = "prod", name: str = "sma.yaml") -> Path:
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "sma.yaml").write_text(BASE, encoding="utf-8")
    layer = tmp_path / "env" / env
    layer.mkdir(parents=True)
    (layer / name).write_text(overlay, encoding="utf-8")
    return strategies


def test_deep_merge_merges_mappings_and_replaces_the_rest() -> None:
    """A nested key changes alone; a list is replaced whole; the inputs stay unchanged."""
    base = {"params": {"fast": 10, "slow": 30}, "instruments": ["BTCUSDT", "ETHUSDT"]}
    over = {"params": {"fast": 20}, "instruments": ["ETHUSDT"]}

    merged = deep_merge(base, over)

    assert merged == {"params": {"fast": 20, "slow": 30}, "instruments": ["ETHUSDT"]}
    assert base["params"] == {"fast": 10, "slow": 30}


def test_changes_lists_each_differing_leaf_by_dotted_key() -> None:
    """Changed, added and removed leaves, sorted by key."""
    found = changes({"a": 1, "p": {"x": 1, "y": 2}}, {"a": 1, "p": {"x": 5, "z": 3}})

    assert found == [("p.x", 1, 5), ("p.y", 2, "(not set)"), ("p.z", "(not set)", 3)]


def test_overlay_changes_one_parameter_and_keeps_the_others(tmp_path: Path) -> None:
    """prod: fast 20 and disabled; slow and quantity from the base."""
    strategies = _tree(tmp_path, "enabled: false\nparams:\n  fast: 20\n")

    config = load_strategy_config(strategies / "sma.yaml", overlay_dir(strategies, "prod"))

    assert config.params == {"fast": 20, "slow": 30, "quantity": "0.001"}
    assert config.enabled is False


def test_an_invalid_overlay_value_names_the_overlay_file_and_line(tmp_path: Path) -> None:
    """An unknown key on line 3 of the overlay: the overlay's path and line 3."""
    strategies = _tree(tmp_path, "params:\n  fast: 20\n  lookback: 5\n")
    layer = tmp_path / "env" / "prod" / "sma.yaml"

    with pytest.raises(ConfigError) as raised:
        load_strategy_configs(strategies, overlay_dir(strategies, "prod"))

    assert str(raised.value) == f"{layer}:3: params.lookback: unknown parameter"


def test_an_overlay_of_no_strategy_is_refused(tmp_path: Path) -> None:
    """prod/smaa.yaml (a typo) matches no strategy file: refused, naming it."""
    strategies = _tree(tmp_path, "enabled: false\n", name="smaa.yaml")

    with pytest.raises(ConfigError, match=r"smaa\.yaml: overlay of no strategy file in"):
        load_strategy_configs(strategies, overlay_dir(strategies, "prod"))


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    """Only dev, staging and prod."""
    with pytest.raises(ConfigError, match="environment must be one of dev, staging, prod"):
        overlay_dir(tmp_path, "qa")


def _diff(strategies: Path, *argv: str) -> str:
    out = io.StringIO()
    args: argparse.Namespace = build_parser().parse_args(
        ["config", "--strategies", str(strategies), "diff", *argv]
    )
    assert run(args, out) == 0
    return out.getvalue()


def test_config_diff_env_shows_the_merged_changes_per_key(tmp_path: Path) -> None:
    """`config diff --env prod`: one line per changed key; dev (no overlay dir) none."""
    strategies = _tree(tmp_path, "enabled: false\nparams:\n  fast: 20\n")

    prod = _diff(strategies, "--env", "prod")
    dev = _diff(strategies, "--env", "dev", "sma")

    assert prod.splitlines()[1:] == ["sma  enabled: true -> false", "sma  params.fast: 10 -> 20"]
    assert dev.splitlines()[1:] == ["sma  (same as base)"]


def test_the_shipped_overlays_load_and_change_what_they_say(tmp_path: Path) -> None:
    """config/env/prod over config/strategies: the market maker's gamma and loss budget."""
    strategies = SHIPPED / "strategies"

    text = _diff(strategies, "--env", "prod", "strategist-mm-btc")

    assert text.splitlines()[1:] == [
        "strategist-mm-btc  params.gamma: 0.05 -> 0.1",
        "strategist-mm-btc  params.max_loss: 25 -> 50",
    ]
    for env in ("dev", "staging", "prod"):
        assert len(load_strategy_configs(strategies, overlay_dir(strategies, env))) == len(
            load_strategy_configs(strategies)
        )


async def test_hot_reload_merges_the_overlay_and_maps_its_edits(tmp_path: Path) -> None:
    """The watcher reloads through the overlay: editing the overlay's fast to 25 queues the
    merged params; an overlay file's path is mapped to its strategy file."""
    strategies = _tree(tmp_path, "params:\n  fast: 20\n")
    layer = overlay_dir(strategies, "prod")
    assert layer is not None
    running = load_strategy_config(strategies / "sma.yaml", layer)
    queued: list[ConfigChange] = []

    async def put(change: ConfigChange) -> None:
        queued.append(change)

    watcher = ConfigWatcher(strategies, {"sma": running}, put, print, overlay=layer)
    (layer / "sma.yaml").write_text("params:\n  fast: 25\n", encoding="utf-8")
    await watcher.reload(watcher._base_of(layer / "sma.yaml"))

    assert running.params["fast"] == 20
    assert [c.config.params for c in queued] == [{"fast": 25, "slow": 30, "quantity": "0.001"}]
    assert watcher._base_of(layer / "sma.yaml") == strategies / "sma.yaml"
