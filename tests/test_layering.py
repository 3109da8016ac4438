"""The layering rules of DESIGN.md, checked so they cannot erode unnoticed.

- ``tuyagate.protocol`` is sans-IO: importing it loads no event loop, no sockets, no TLS, no HTTP
  stack and nothing of tuyagate beyond the error tree, so the device emulator, the transport and
  third-party code can all build on it.
- ``import tuyagate`` stays light: no gateway, emulator, CLI or web framework until asked for.
- The library and the CLI work without the ``gateway`` extra (``pip install tuyagate``): the LAN, cloud
  and flashed clients, the domain layer, the LAN emulators, every public name of ``tuyagate`` and the
  CLI's parser load no web framework, ASGI server or uvloop; only the HTTP servers do
  (tests/test_packaging.py runs them in a venv that really lacks the extra).
- No module of ``tuyagate.protocol`` imports a clock, a random source or an I/O layer: time,
  nonces and IVs are passed in, which is what makes the known-answer tests possible.

Imports are observed in a fresh interpreter (``sys.modules`` of the test process is polluted by
whatever other tests imported), and the source rule is checked on the syntax tree, so a name in a
comment or a string does not count.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROTOCOL_DIR = Path(__file__).resolve().parents[1] / "src" / "tuyagate" / "protocol"

# Top-level packages the protocol core must not load, directly or through a dependency.
IO_AND_WEB = ["asyncio", "socket", "ssl", "selectors", "http", "httpx", "fastapi", "starlette", "uvicorn"]
WEB_FRAMEWORKS = [
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "httpx",
    "aiohttp",
    "flask",
    "paho",
    "aiomqtt",
    "gmqtt",
]
# What the `gateway` extra installs: nothing outside the HTTP servers may import it.
GATEWAY_EXTRA = ["fastapi", "starlette", "pydantic", "uvicorn", "httptools", "uvloop"]
# What protocol/ source may not import: I/O, event loops, clocks and randomness.
FORBIDDEN_IN_PROTOCOL = {"asyncio", "socket", "time", "random", "secrets", "selectors", "ssl", "datetime"}


def modules_after_import(statement: str) -> set[str]:
    """The module names loaded by a fresh interpreter after ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(set(sys.modules))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout))


def loaded(modules: set[str], top_level: str) -> list[str]:
    return sorted(m for m in modules if m == top_level or m.startswith(top_level + "."))


def test_protocol_import_loads_no_io_and_nothing_else_of_tuyagate() -> None:
    modules = modules_after_import("import tuyagate.protocol")
    assert "tuyagate.protocol.codec" in modules  # the import did happen
    for name in IO_AND_WEB:
        assert loaded(modules, name) == [], f"import tuyagate.protocol loads {name}"
    ours = sorted(m for m in modules if m == "tuyagate" or m.startswith("tuyagate."))
    outside = [m for m in ours if m not in ("tuyagate", "tuyagate.errors") and not m.startswith("tuyagate.protocol")]
    assert outside == []


def test_package_import_is_light() -> None:
    modules = modules_after_import("import tuyagate")
    for name in ("tuyagate.gateway", "tuyagate.sim", "tuyagate.cli", *WEB_FRAMEWORKS):
        assert loaded(modules, name) == [], f"import tuyagate loads {name}"


# The library's entry points, and what `tuyagate --help` and every command without the extra import.
LIBRARY_PATHS = {
    "public names": "import tuyagate\nfor name in tuyagate.__all__: getattr(tuyagate, name)",
    "lan": "import tuyagate.lan, tuyagate.lan.scanner",
    "cloud": "import tuyagate.cloud, tuyagate.cloud.client",
    "flashed": "import tuyagate.flashed.device",
    "devices": "import tuyagate.devices.hub, tuyagate.devices.registry, tuyagate.devices.vault, tuyagate.schema",
    "lan emulators": "import tuyagate.sim.device, tuyagate.sim.fleet",
    "cli parser": "from tuyagate.cli.main import build_parser\nbuild_parser()",
    "cli commands": "import tuyagate.cli.control_cmds, tuyagate.cli.registry_cmds, tuyagate.cli.token_cmds",
}


@pytest.mark.parametrize("statement", LIBRARY_PATHS.values(), ids=LIBRARY_PATHS.keys())
def test_library_paths_load_nothing_of_the_gateway_extra(statement: str) -> None:
    modules = modules_after_import(statement)
    assert "tuyagate" in modules
    for name in GATEWAY_EXTRA:
        assert loaded(modules, name) == [], f"{statement!r} loads {name}"


def test_the_http_servers_do_load_it() -> None:
    """The check above can fail: the gateway app and the HTTP emulators import the extra's modules."""
    modules = modules_after_import("import tuyagate.gateway.app, tuyagate.sim.tasmota_app")
    assert loaded(modules, "fastapi")
    assert loaded(modules, "starlette")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            found.append((node.lineno, "__import__"))
    return found


PROTOCOL_FILES = sorted(PROTOCOL_DIR.glob("*.py"))


def test_protocol_sources_are_found() -> None:
    assert {p.name for p in PROTOCOL_FILES} >= {"codec.py", "frames.py", "crypto.py", "handshake.py", "discovery.py"}


@pytest.mark.parametrize("path", PROTOCOL_FILES, ids=lambda p: p.name)
def test_protocol_source_imports_no_clock_randomness_or_io(path: Path) -> None:
    for line, module in _imports(path):
        top = module.split(".")[0]
        where = f"{path.name}:{line} imports {module}"
        assert module != "__import__", where
        assert top not in FORBIDDEN_IN_PROTOCOL, where
        # Only the standard library, cryptography, and tuyagate's own errors and protocol.
        if top == "tuyagate":
            assert module == "tuyagate.errors" or module.startswith("tuyagate.protocol"), where
        else:
            assert top in sys.stdlib_module_names or top in {"__future__", "cryptography"}, where
