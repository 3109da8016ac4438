"""The built dashboard in the package is the build of the sources in dashboard/ (a forgotten rebuild fails here).

``dashboard/build.mjs`` writes a digest of all its inputs (sources, lock file, build script) into
``build-info.json``; this recomputes it the same way without needing Node. It also checks that the
page refers only to files that are there, that the first load stays small, and that the package
ships the assets.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

from tuyagate.gateway.web_ui import ASSETS_DIR

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
INPUTS = ("build.mjs", "package.json", "package-lock.json", "tsconfig.json", "src")
FIRST_LOAD_LIMIT = 200 * 1024  # the budget for the assets, compressed


def source_digest() -> str:
    paths: list[str] = []
    for name in INPUTS:
        path = DASHBOARD / name
        if path.is_dir():
            paths += [p.relative_to(DASHBOARD).as_posix() for p in path.rglob("*") if p.is_file()]
        else:
            paths.append(name)
    digest = hashlib.sha256()
    for rel in sorted(paths):
        digest.update(rel.encode() + b"\0")
        digest.update((DASHBOARD / rel).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def build_info() -> dict[str, object]:
    info: dict[str, object] = json.loads((ASSETS_DIR / "build-info.json").read_text(encoding="utf-8"))
    return info


def test_the_shipped_build_is_the_build_of_the_sources() -> None:
    assert build_info()["sources"] == source_digest(), "the dashboard sources changed: run dashboard/build.sh"


def test_the_page_refers_to_files_that_are_there() -> None:
    page = (ASSETS_DIR / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="/ui/([^"]+)"', page)
    assert len(refs) == 3  # icon, styles, script
    for ref in refs:
        assert (ASSETS_DIR / ref).is_file(), ref
    assert "http://" not in page
    assert "https://" not in page
    shipped = {p.name for p in ASSETS_DIR.iterdir()}
    assert {*build_info()["files"], "build-info.json"} == shipped  # type: ignore[misc]


def test_the_assets_stay_small() -> None:
    files: dict[str, dict[str, int]] = build_info()["files"]  # type: ignore[assignment]
    total = sum(f["gzip"] for name, f in files.items() if name != "build-info.json")
    assert total <= FIRST_LOAD_LIMIT, total


def test_the_package_ships_the_assets_and_pins_the_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "gateway/dashboard/*" in project["tool"]["setuptools"]["package-data"]["tuyagate"]
    lock = json.loads((DASHBOARD / "package-lock.json").read_text(encoding="utf-8"))
    package = json.loads((DASHBOARD / "package.json").read_text(encoding="utf-8"))
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert (ROOT / ".gitignore").read_text().count("dashboard/node_modules/") == 1
