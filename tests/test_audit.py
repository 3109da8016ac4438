"""The dependency audit step of ./run test (.ci/audit.py): a planted finding is reported, an ignored one is not."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORT = {
    "dependencies": [
        {
            "name": "httpx",
            "version": "0.1",
            "vulns": [{"id": "PYSEC-1", "aliases": ["CVE-1"], "fix_versions": ["0.2"]}],
        },
        {"name": "anyio", "version": "4.0", "vulns": []},
        {"name": "missing", "skip_reason": "Dependency not found on PyPI"},
    ]
}


def test_a_planted_vulnerability_is_found_and_can_be_ignored() -> None:
    audit = load_audit()
    audited, findings = audit.summarise(REPORT, set())
    assert audited == 2
    assert findings == ["httpx 0.1: PYSEC-1 (fixed in 0.2)"]
    assert audit.summarise(REPORT, {"CVE-1"}) == (2, [])
