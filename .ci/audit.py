"""Audit the installed dependencies for known vulnerabilities: pip-audit against PyPI's advisory data.

``./run test`` runs this as its own step. It contacts the package index only (``pip-audit -s pypi``:
PyPI's JSON API carries each release's advisories); no other vulnerability service is asked. It is
offline-tolerant: when the index cannot be reached, or serves no advisory data for the packages (a
mirror or proxy that only serves files), it says so plainly -- how many packages could not be
audited -- and passes, because nothing was found, not because everything was checked. A known
vulnerability fails the step, naming the package, the advisory and the fixed version; an advisory
that does not apply can be ignored by id with ``TUYAGATE_AUDIT_IGNORE=ID[,ID...]``.

Run alone: ``.venv/bin/python .ci/audit.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT = 180.0


def pip_audit() -> str | None:
    venv = Path(sys.executable).parent / "pip-audit"
    return str(venv) if venv.exists() else shutil.which("pip-audit")


def summarise(report: dict[str, Any], ignored: set[str]) -> tuple[int, list[str]]:
    """(packages audited, findings) from pip-audit's JSON report."""
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    findings = []
    for dep in audited:
        for vuln in dep.get("vulns", []):
            ids = {vuln.get("id", ""), *vuln.get("aliases", [])}
            if ids & ignored:
                continue
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            findings.append(f"{dep['name']} {dep.get('version', '?')}: {vuln.get('id')} (fixed in {fixed})")
    return len(audited), findings


def main() -> int:
    tool = pip_audit()
    if tool is None:
        print("audit: pip-audit is not installed (it is in the dev extra); no dependency was audited")
        return 0
    ignored = {i.strip() for i in os.environ.get("TUYAGATE_AUDIT_IGNORE", "").split(",") if i.strip()}
    command = [tool, "-s", "pypi", "-f", "json", "--progress-spinner", "off", "--skip-editable"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        print(f"audit: pip-audit did not finish within {TIMEOUT:.0f} s (package index unreachable?); not audited")
        return 0
    try:
        report = json.loads(done.stdout)
    except ValueError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: pip-audit could not ask the package index ({reason}); no dependency was audited")
        return 0
    total = len(report.get("dependencies", []))
    audited, findings = summarise(report, ignored)
    if findings:
        print(f"audit: {len(findings)} known vulnerabilities in {audited} audited packages:")
        for finding in findings:
            print(f"  {finding}")
        print("  (an advisory that does not apply: TUYAGATE_AUDIT_IGNORE=ID[,ID...])")
        return 1
    if audited == 0:
        print(
            f"audit: the package index here serves no vulnerability data: 0 of {total} packages could be "
            "audited (pip-audit -s pypi). Nothing was checked; run this where PyPI's JSON API is reachable."
        )
        return 0
    print(f"audit: no known vulnerabilities in {audited} of {total} packages ({total - audited} not on the index)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
