"""Dependency vulnerability scan for CI (SPEC OP-7): pip-audit over what is installed.

Runs ``pip-audit`` on the virtualenv's frozen requirements (the project itself
excluded) and prints one line per finding, then a summary:
``audited N of M packages, K vulnerabilities``. Exits 1 on any known
vulnerability. A package the advisory service cannot answer for (an index or
proxy without PyPI's per-release JSON, no route to the service) is listed as
skipped with pip-audit's reason: the scan then proves nothing about it, and
the summary says so loudly rather than passing in silence.

Usage: ``.venv/bin/python scripts/audit_deps.py``
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def _frozen() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "".join(line + "\n" for line in out.splitlines() if not line.startswith("-e "))


def _audit(requirements: Path) -> dict[str, object]:
    cmd = [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps"]
    cmd += ["--disable-pip", "--progress-spinner", "off", "-f", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 (our argv)
    if done.returncode not in (0, 1):
        sys.exit(f"pip-audit failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    report: dict[str, object] = json.loads(done.stdout)
    return report


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(_frozen())
        report = _audit(requirements)
    deps = [d for d in report["dependencies"] if isinstance(d, dict)]  # type: ignore[attr-defined]
    skipped = [d for d in deps if "skip_reason" in d]
    vulns = [(d["name"], d["version"], v) for d in deps for v in d.get("vulns", [])]
    for name, version, vuln in vulns:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        print(f"VULNERABLE {name} {version}: {vuln['id']} (fixed in: {fixes})")
    audited = len(deps) - len(skipped)
    print(f"pip-audit: audited {audited} of {len(deps)} packages, {len(vulns)} vulnerabilities")
    if skipped:
        print(f"pip-audit: {len(skipped)} packages could not be audited here, e.g.")
        for dep in skipped[:3]:
            print(f"  {dep['skip_reason']}")
    return 1 if vulns else 0


if __name__ == "__main__":
    sys.exit(main())
