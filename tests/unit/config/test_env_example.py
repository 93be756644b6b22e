"""``.env.example`` is generated from the settings model and loads as the defaults."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import pytest

from genesis.config.cli import add_parser, run
from genesis.settings import Settings, env_example

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def test_the_committed_example_is_what_the_model_generates() -> None:
    """Regenerate with `python -m genesis config env > .env.example` after a settings change."""
    assert EXAMPLE.read_text(encoding="utf-8") == env_example()


def test_every_setting_is_described_with_its_default() -> None:
    text = env_example()
    for name, field in Settings.model_fields.items():
        assert f"# GENESIS_{name.upper()}=" in text
        assert field.description
        assert f"# {field.description}\n" in text
    assert "# GENESIS_LOG_LEVEL=info\n" in text
    assert "# GENESIS_BINANCE_API_SECRET=\n" in text  # a secret shows no value


def test_uncommenting_every_default_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line, uncommented as written, loads to the model's own default."""
    for name in list(os.environ):
        if name.startswith("GENESIS_"):
            monkeypatch.delenv(name)
    values = {}
    for line in env_example().splitlines():
        if line.startswith("# GENESIS_") and not line.endswith("="):
            key, _, value = line[2:].partition("=")
            values[key] = value
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    assert len(values) >= 10
    assert Settings(_env_file=env) == Settings(_env_file=None)


def test_the_cli_prints_it_even_with_broken_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESIS_LOG_LEVEL", "loud")  # invalid: `config env` must still work
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert run(parser.parse_args(["config", "env"]), out) == 0
    assert out.getvalue() == env_example()
