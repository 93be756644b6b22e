"""``python -m genesis config versions|diff|rollback``: the running daemon's config store.

The daemon stores every strategy configuration it runs (at start and at each
accepted hot reload) by SHA-256 in its journal. These commands read that store:

* ``versions [ID]``: each stored version, the one running, and drift (the file
  on disk differs from the running version);
* ``diff ID [SHA_A [SHA_B]]``: a unified diff of two versions (default: the
  running one against the file on disk);
* ``diff --env ENV [ID]``: what the environment's overlay (``config/env/ENV/``)
  changes in each strategy, per key, base value -> merged value;
* ``rollback ID SHA``: write that version back to the strategy's YAML file; the
  running daemon's watcher validates and applies it like any edit.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys
from pathlib import Path
from typing import IO, Any

import yaml

from genesis.backtesting.output import format_ts
from genesis.config.loader import load_strategy_config, load_strategy_configs
from genesis.config.models import StrategyConfig
from genesis.config.overlay import ENVIRONMENTS, changes, overlay_dir
from genesis.errors import ConfigError
from genesis.settings import env_example, load_settings
from genesis.storage import open_repository
from genesis.storage.repository import ConfigVersionRecord

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``config`` and its four verbs."""
    p = sub.add_parser("config", help="strategy config versions, diffs and rollback")
    p.add_argument("--strategies", type=Path, default=None, help="directory of strategy YAML files")
    verbs = p.add_subparsers(dest="verb", required=True)
    v = verbs.add_parser("versions", help="stored versions, the running one, drift")
    v.add_argument("id", nargs="?", help="strategy id (default: every strategy)")
    d = verbs.add_parser(
        "diff", help="diff two versions (default: running vs file), or --env's merge vs base"
    )
    d.add_argument("id", nargs="?", help="strategy id (with --env: default every strategy)")
    d.add_argument(
        "--env",
        choices=ENVIRONMENTS,
        default=None,
        help="show what this environment's overlay changes, per key (no journal needed)",
    )
    d.add_argument(
        "shas",
        nargs="*",
        metavar="SHA",
        help="one or two stored versions (default: running vs file)",
    )
    verbs.add_parser(
        "env", help="print a .env.example: every GENESIS_* setting, its meaning and default"
    )
    r = verbs.add_parser("rollback", help="write a stored version back to its file")
    r.add_argument("id", help="strategy id")
    r.add_argument("sha", help="the stored version to write back")


def run(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    """Execute one verb; return the exit code (errors raise ConfigError)."""
    if args.verb == "env":  # before the settings load: it must work while they are broken
        out.write(env_example())
        return 0
    settings = load_settings()
    directory = args.strategies or settings.strategies_dir
    if args.verb == "diff" and args.env:
        _env_diff(directory, args.env, args.id, out)
        return 0
    if args.verb == "diff" and not args.id:
        raise ConfigError("config diff: give a strategy id, or --env to see an overlay's changes")
    url = settings.database_url.get_secret_value() if settings.database_url else None
    overlay = overlay_dir(directory, settings.env)
    files = (
        {c.id: c for c in load_strategy_configs(directory, overlay)} if directory.is_dir() else {}
    )
    ids = [args.id] if args.id else sorted(files)
    stored = asyncio.run(_load(url, settings.data_dir, ids))
    if args.verb == "versions":
        _versions(ids, stored, files, out)
    elif args.verb == "diff":
        _diff(args.id, args.shas, stored.get(args.id, []), files.get(args.id), out)
    else:
        _rollback(args.id, args.sha, stored.get(args.id, []), directory, out)
    return 0


async def _load(
    url: str | None, data_dir: Path, ids: list[str]
) -> dict[str, list[ConfigVersionRecord]]:
    repo = await open_repository(url, data_dir)
    try:
        return {i: await repo.config_versions(i) for i in ids}
    finally:
        await repo.close()


def _running(versions: list[ConfigVersionRecord]) -> ConfigVersionRecord | None:
    """The version applied last (versions are stored when they start running)."""
    return max(versions, key=lambda v: v.ts_ns, default=None)


def _versions(
    ids: list[str],
    stored: dict[str, list[ConfigVersionRecord]],
    files: dict[str, StrategyConfig],
    out: IO[str],
) -> None:
    for strategy_id in ids:
        versions = stored.get(strategy_id, [])
        running = _running(versions)
        for v in versions:
            mark = "running" if v is running else ""
            out.write(
                f"{strategy_id}  {v.sha256[:12]}  {format_ts(v.ts_ns)}  {mark}\n".rstrip() + "\n"
            )
        on_disk = files.get(strategy_id)
        if running is not None and on_disk is not None and on_disk.version_id() != running.sha256:
            out.write(
                f"{strategy_id}  drift: file {on_disk.version_id()[:12]} differs from running"
                f" {running.sha256[:12]}\n"
            )


def _find(
    versions: list[ConfigVersionRecord], prefix: str, strategy_id: str
) -> ConfigVersionRecord:
    found = [v for v in versions if v.sha256.startswith(prefix)]
    if len(found) != 1:
        known = ", ".join(v.sha256[:12] for v in versions) or "none stored"
        raise ConfigError(f"{strategy_id}: {len(found)} versions match {prefix!r} (known: {known})")
    return found[0]


def _diff(
    strategy_id: str,
    shas: list[str],
    versions: list[ConfigVersionRecord],
    on_disk: StrategyConfig | None,
    out: IO[str],
) -> None:
    running = _running(versions)
    if running is None:
        raise ConfigError(f"{strategy_id}: no stored versions (has the daemon run it?)")
    a = _find(versions, shas[0], strategy_id) if shas else running
    if len(shas) > 1:
        b_label, b_body = shas[1], _find(versions, shas[1], strategy_id).body
    elif on_disk is not None:
        b_label = "file"
        b_body = json.dumps(on_disk.model_dump(mode="json"), sort_keys=True, indent=2)
    else:
        raise ConfigError(f"{strategy_id}: no second version and no file to compare with")
    lines = difflib.unified_diff(
        a.body.splitlines(keepends=True), b_body.splitlines(keepends=True),
        fromfile=f"{strategy_id}@{a.sha256[:12]}", tofile=f"{strategy_id}@{b_label[:12]}",
    )  # fmt: skip
    out.writelines(lines)


def _env_diff(directory: Path, env: str, strategy_id: str | None, out: IO[str]) -> None:
    """Per strategy, each key the ``env`` overlay changes: ``id  key: base -> merged``."""
    if not directory.is_dir():
        raise ConfigError(f"strategy directory {directory} does not exist")
    overlay = overlay_dir(directory, env)
    base = {c.id: c for c in load_strategy_configs(directory)}
    merged = {c.id: c for c in load_strategy_configs(directory, overlay)}
    if strategy_id is not None and strategy_id not in base:
        raise ConfigError(f"{strategy_id}: no such strategy in {directory}")
    out.write(f"# {env}: {overlay} merged over {directory}\n")
    for sid in [strategy_id] if strategy_id else sorted(base):
        found = changes(base[sid].model_dump(mode="json"), merged[sid].model_dump(mode="json"))
        if not found:
            out.write(f"{sid}  (same as base)\n")
        for key, old, new in found:
            out.write(f"{sid}  {key}: {_shown(old)} -> {_shown(new)}\n")


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _rollback(
    strategy_id: str, sha: str, versions: list[ConfigVersionRecord], directory: Path, out: IO[str]
) -> None:
    version = _find(versions, sha, strategy_id)
    body = json.loads(version.body)
    path = directory / f"{strategy_id}.yaml"
    if body.get("id") == path.stem:
        body.pop("id")
    text = f"# rolled back to {version.sha256} by `genesis config rollback`\n" + yaml.safe_dump(
        body, sort_keys=False
    )
    tmp = path.with_suffix(".rollback.tmp")  # validated before it replaces the file
    tmp.write_text(text, encoding="utf-8")
    try:
        restored = load_strategy_config(tmp).model_copy(update={"id": strategy_id})
        if restored.version_id() != version.sha256:
            raise ConfigError(f"{strategy_id}: stored version {sha} does not reproduce its SHA-256")
    finally:
        tmp.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")
    out.write(
        f"wrote {path} ({version.sha256[:12]}); a running daemon applies it on its next event\n"
    )
