"""README.md is built from docs/: a change to one without the other fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_current() -> None:
    spec = importlib.util.spec_from_file_location("build_readme", ROOT / "docs" / "build_readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.build()
    actual = (ROOT / "README.md").read_text(encoding="utf-8")
    assert actual == expected, "README.md is stale: run `.venv/bin/python docs/build_readme.py`"


def test_readme_gives_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./run demo" in text
    assert "./run test" in text
    assert "./run test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
