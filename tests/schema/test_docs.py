"""The DP schema example in docs/sections/devices.md prints exactly what each of its comments says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECTION = (REPO / "docs" / "sections" / "devices.md").read_text(encoding="utf-8").split("### DP schemas", 1)[1]
SECTION = SECTION.split("\n### ", 1)[0]


def test_schema_example_prints_its_comments() -> None:
    block = re.search(r"```python\n(.*?)```", SECTION, re.S)
    assert block is not None
    code = block.group(1)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    expected = re.findall(r"^\s*print\(.*\)\s+# (.+)$", code, re.M)
    assert len(expected) >= 8
    assert done.stdout.splitlines() == expected
