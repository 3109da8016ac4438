"""constraints.txt is what ./run and CI install: it must name every dependency, at the version tested.

A dependency added to pyproject.toml without ``./run lock`` would install at whatever version the index
offers on the next fresh machine; a venv that drifted from the file would test other versions than CI.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("dev", "all", "gateway", "keyring", "app", "mqtt", "cloud-events")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        assert version, f"constraints.txt: {line!r} is not name==version"
        pins[_norm(name)] = version
    return pins


def _dev_closure() -> set[str]:
    """Every distribution the dev install pulls in, from the installed metadata, markers evaluated."""
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [("tuyagate", EXTRAS)]
    while todo:
        name, extras = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
            if req.marker is not None and not any(
                req.marker.evaluate({**env, "extra": extra}) for extra in (*extras, "")
            ):
                continue
            dep = _norm(req.name)
            if dep == "tuyagate" or dep in seen:
                continue
            seen.add(dep)
            todo.append((dep, tuple(req.extras)))
    return seen


def test_every_dependency_is_pinned_at_the_installed_version() -> None:
    pins = _pins()
    missing = sorted(_dev_closure() - pins.keys())
    assert not missing, f"not in constraints.txt (run ./run lock): {missing}"
    drift = {
        name: (version, metadata.version(name))
        for name, version in pins.items()
        if name in _dev_closure() and metadata.version(name) != version
    }
    assert not drift, f"installed versions differ from constraints.txt (pinned, installed): {drift}"


def test_run_installs_with_the_constraints() -> None:
    script = (ROOT / "run").read_text()
    assert script.count("-c constraints.txt") >= 2  # pip itself and the project
    assert "constraints.txt -nt .venv/.installed" in script  # a new lock reinstalls
