"""Generated requests against the served OpenAPI document on a live daemon (stateless).

schemathesis (its CLI, as a user would run it) reads ``/openapi.json`` and sends
examples, boundary values and fuzzed requests to every operation, with the token:
no answer may be a 5xx, and every answer must match the document (status codes,
content types, the error body's schema).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TOKEN, start_daemon

CHECKS = ",".join((
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
))  # fmt: skip


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(tmp_path: Path) -> None:
    """Every operation, fuzzed with a valid token: no 5xx, every response as documented."""
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    live = start_daemon(tmp_path / "daemon")
    try:
        run = subprocess.run(
            [cli, "run", live.base + "/openapi.json", "--header", f"Authorization: Bearer {TOKEN}",
             "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-examples", "15",
             "--seed", "12", "--request-timeout", "20", "--no-color"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )  # fmt: skip
    finally:
        assert live.stop() == 0, live.err.read_text()[-2000:]
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:].replace(TOKEN, "<token>")
