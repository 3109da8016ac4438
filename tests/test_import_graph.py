"""Dependencies point down (DESIGN.md): each layer imports only the layers below it.

cli, gateway, mqtt -> devices -> lan, cloud, flashed -> protocol, schema (mqtt needs only schema and the
shared modules); ``device_api``, ``deadline``, ``bus`` and ``errors`` are shared by all; only the CLI
(which hosts the demo), tests and benchmarks use the emulators.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tuyagate"
SHARED = {"errors", "error_codes", "device_api", "deadline", "bus", "__init__"}
ALLOWED: dict[str, set[str]] = {
    "protocol": {"protocol"},
    "schema": {"schema"},
    "lan": {"lan", "protocol"},
    "cloud": {"cloud"},
    "flashed": {"flashed", "protocol", "schema"},
    "devices": {"devices", "lan", "cloud", "flashed", "protocol", "schema"},
    "gateway": {"gateway", "devices", "lan", "cloud", "flashed", "protocol", "schema"},
    "mqtt": {"mqtt", "schema"},  # the bridge sees devices only through device_api and the bus
    "sim": {"sim", "protocol", "cloud", "schema"},
    "cli": {"cli", "gateway", "mqtt", "devices", "lan", "cloud", "flashed", "protocol", "sim", "schema"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "tuyagate" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_is_below_it(layer: str) -> None:
    bad = {}
    for path in sorted((SRC / layer).rglob("*.py")):
        wrong = _imports(path) - ALLOWED[layer] - SHARED
        if wrong:
            bad[str(path.relative_to(SRC))] = sorted(wrong)
    assert not bad, f"imports that point up or sideways: {bad}"


def test_every_layer_is_listed() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


def test_the_shared_modules_import_no_layer() -> None:
    for name in ("errors", "error_codes", "device_api", "deadline", "bus"):
        assert _imports(SRC / f"{name}.py") <= {"errors", "bus", "deadline", "schema"}
