"""``pip install tuyagate`` without extras is a working library and CLI; the HTTP servers say what they need.

Two halves:

- In this (dev) environment, with the gateway extra's modules hidden from the import system, every
  command that needs it answers the one line ``tuyagate serve needs the gateway extra: pip install
  'tuyagate[gateway]'`` and exit code 1, before it starts anything; the other commands keep working.
- A real bare install (marked ``packaging``): a fresh venv (no system site-packages, no pip of its own)
  gets the worktree's package built and installed by pip with its core dependencies resolved from the
  configured index, exactly what ``pip install tuyagate`` does. Then, in that venv, the library
  (``tuyagate.connect``) reads and sets DPs on an emulated device over the LAN protocol, lists the
  emulated cloud's devices and switches an emulated Tasmota plug, and the CLI does the same from the
  shell, while the emulators run here. The venv is built once per test session (with pip's cache it
  takes seconds); when the index is unreachable the tests are skipped and the reason says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tuyagate.cli import main as cli_main
from tuyagate.cli.extras import EXTRAS, MissingExtraError, extra_for_module, missing_modules, require_extra

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_STACK = ("fastapi", "starlette", "pydantic", "uvicorn", "httptools", "uvloop")
EXTRA_LINE = "{command} needs the gateway extra: pip install 'tuyagate[gateway]'"


# ---- the extra checks, with the gateway extra hidden in this interpreter ----------------------------------


@pytest.fixture
def without_gateway_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the gateway extra's modules unimportable here (``find_spec`` and ``import`` both see None)."""
    for name in EXTRAS["gateway"]:
        monkeypatch.setitem(sys.modules, name, None)


def test_the_extra_is_installed_in_the_dev_environment() -> None:
    assert missing_modules("gateway") == ()
    require_extra("gateway", "tuyagate serve")  # no error


def test_missing_modules_are_named(without_gateway_extra: None) -> None:
    assert missing_modules("gateway") == EXTRAS["gateway"]
    with pytest.raises(MissingExtraError) as caught:
        require_extra("gateway", "tuyagate serve")
    assert str(caught.value) == EXTRA_LINE.format(command="tuyagate serve")
    assert caught.value.missing == EXTRAS["gateway"]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["serve"], "tuyagate serve"),
        (["demo", "--port", "0", "--fleet-port", "0"], "tuyagate demo"),
        (["sim", "cloud", "--client-id", "someclient", "--secret", "somesecret"], "tuyagate sim cloud"),
        (["sim", "tasmota"], "tuyagate sim tasmota"),
        (["sim", "esphome"], "tuyagate sim esphome"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_commands_that_need_the_extra_say_so_in_one_line(
    argv: list[str],
    command: str,
    without_gateway_extra: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TUYAGATE_DATA_DIR", str(tmp_path))
    assert cli_main.run(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == EXTRA_LINE.format(command=command) + "\n"
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # nothing was started or written


def test_fleet_with_a_cloud_checks_before_any_device_starts(
    without_gateway_extra: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "fleet.json"
    argv = ["sim", "fleet", "--count", "1", "--first-ip", "127.0.9.1", "--port", "0", "--manifest", str(manifest)]
    assert cli_main.run([*argv, "--cloud-port", "0"]) == 1
    assert capsys.readouterr().err == EXTRA_LINE.format(command="tuyagate sim fleet --cloud-port") + "\n"
    assert not manifest.exists()


def test_help_names_the_extra_only_where_it_is_missing(
    without_gateway_extra: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli_main.run(["serve", "--help"])
    assert done.value.code == 0
    assert "needs the gateway extra: pip install 'tuyagate[gateway]'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main.run(["status", "--help"])
    assert "gateway extra" not in capsys.readouterr().out
    monkeypatch.undo()  # the extra is back: no note
    with pytest.raises(SystemExit):
        cli_main.run(["serve", "--help"])
    assert "gateway extra" not in capsys.readouterr().out


def test_commands_without_the_extra_keep_working(
    without_gateway_extra: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main.run(["tokens", "list", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "no API tokens\n"
    assert cli_main.run(["devices", "list", "--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_forgotten_check_still_ends_in_the_one_line(
    without_gateway_extra: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The safety net in ``run``: a command importing an extra's module unchecked gets the same answer."""

    def unchecked(args: argparse.Namespace) -> int:
        import fastapi  # noqa: F401  - fails: the extra is hidden

        return 0

    def parser() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog="tuyagate")
        p.add_argument("-v", "--verbose", action="count", default=0)
        commands = p.add_subparsers(dest="command")
        commands.add_parser("web").set_defaults(func=unchecked)
        return p

    monkeypatch.setattr(cli_main, "build_parser", parser)
    assert cli_main.run(["web"]) == 1
    assert capsys.readouterr().err == EXTRA_LINE.format(command="tuyagate web") + "\n"
    assert extra_for_module("fastapi.routing") == "gateway"
    assert extra_for_module("httpx") is None
    assert extra_for_module(None) is None


def test_the_readme_shows_the_line_the_cli_prints() -> None:
    head = (ROOT / "docs" / "readme-head.md").read_text(encoding="utf-8")
    assert "$ tuyagate serve\n" + EXTRA_LINE.format(command="tuyagate serve") + "\n```" in head


# ---- a real bare install ------------------------------------------------------------------------------------

NETWORK_TROUBLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Connection refused",
)


@dataclass(frozen=True)
class BareVenv:
    root: Path
    python: Path
    tuyagate: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("TUYAGATE_MASTER_KEY", None)
        env.update(extra)
        return env


def _copy_source(dest: Path) -> Path:
    """What an sdist holds, copied away from the worktree so the build leaves nothing in it."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    return dest


def _pip_supports_python_option() -> bool:
    import pip

    major, minor = (int(part) for part in pip.__version__.split(".")[:2])
    return (major, minor) >= (22, 3)


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> BareVenv:
    """A venv with ``pip install <this worktree>`` and nothing else, built once per session."""
    base = tmp_path_factory.mktemp("bare-install")
    source = _copy_source(base / "source")
    venv = base / "venv"
    # Without pip of its own when the dev venv's pip can install into it (``pip --python``): faster, and
    # truly bare. Never with the system site-packages.
    own_pip = not _pip_supports_python_option()
    subprocess.run(
        [sys.executable, "-m", "venv", *([] if own_pip else ["--without-pip"]), str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip"] if own_pip else [sys.executable, "-m", "pip", "--python", str(python)]
    # Few, short retries (also for the build-dependency install pip runs in a child process): offline,
    # the skip comes in seconds. pip's own cache makes the online case fast.
    env = {**os.environ, "PIP_RETRIES": "1", "PIP_DEFAULT_TIMEOUT": "10", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(
        [*pip, "install", "--no-input", "--progress-bar", "off", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=base,
        env=env,
    )
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if any(marker in output for marker in NETWORK_TROUBLE):
            why = next(line.strip() for line in output.splitlines() if any(m in line for m in NETWORK_TROUBLE))
            pytest.skip(f"no bare install: the package index pip is configured with is unreachable ({why[:300]})")
        pytest.fail(f"pip install of the bare package failed:\n{output[-4000:]}")
    return BareVenv(root=base, python=python, tuyagate=venv / "bin" / "tuyagate")


async def _run_bare(bare: BareVenv, *argv: str, stdin: str | None = None, **env: str) -> tuple[int, str, str]:
    """Run a program of the bare venv without blocking this loop (its emulators must keep answering)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=bare.root,
        env=bare.env(**env),
    )
    try:
        async with asyncio.timeout(30):
            out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@dataclass
class Emulators:
    device: Any  # SimDevice
    cloud: Any  # RunningCloud
    tasmota: Any  # TasmotaSim


DEV_ID = "bf0badbeef0000000001"
KEY = "0123456789abcdef"
CLOUD_ID, CLOUD_SECRET = "baretestclient", "bare-test-secret-0123456789"


@pytest.fixture
async def emulators() -> AsyncIterator[Emulators]:
    """An emulated 3.4 plug, the emulated Tuya cloud and an emulated Tasmota plug, served from the dev venv."""
    from tuyagate.sim.cloud_sample import sample_fleet
    from tuyagate.sim.cloud_server import start_cloud_server
    from tuyagate.sim.cloud_state import CloudConfig
    from tuyagate.sim.device import SimDevice
    from tuyagate.sim.tasmota import TasmotaConfig
    from tuyagate.sim.tasmota_app import start_tasmota

    device = SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4", dps={"1": False, "2": 10}, port=0)
    await device.start()
    cloud = await start_cloud_server(CloudConfig(client_id=CLOUD_ID, secret=CLOUD_SECRET), sample_fleet())
    tasmota = await start_tasmota(TasmotaConfig(relays=1, energy=True))
    try:
        yield Emulators(device, cloud, tasmota)
    finally:
        await tasmota.stop()
        await cloud.stop()
        await device.stop()


LIBRARY_SCRIPT = """
import asyncio, importlib.util, json, sys

import tuyagate
from tuyagate.cloud import TuyaCloudClient
from tuyagate.flashed.device import tasmota_device

cfg = json.loads(sys.argv[1])


async def main() -> dict:
    async with tuyagate.connect(cfg["id"], "127.0.0.1", cfg["key"], "3.4", port=cfg["port"]) as dev:
        before = await dev.status()
        sent = await dev.set({"1": True, "2": 75})
        after = await dev.status(refresh=True)
    async with TuyaCloudClient(cfg["client_id"], cfg["secret"], base_url=cfg["cloud"], retries=0) as cloud:
        names = sorted(d.name for d in await cloud.devices())
    plug = tasmota_device(cfg["tasmota"], poll_interval=60.0)
    try:
        await plug.set(switch_1=True)
        switched = (await plug.status()).values["switch_1"]
    finally:
        await plug.close()
    stack = cfg["stack"]
    return {
        "before": before.dps, "sent": [sent.route, sent.dps], "after": [after.route, after.dps],
        "cloud_names": names, "tasmota_switch_1": switched,
        "tuyagate_file": tuyagate.__file__,
        "importable": [m for m in stack if importlib.util.find_spec(m) is not None],
        "loaded": sorted(m for m in sys.modules if m.split(".")[0] in stack),
    }


print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.packaging
@pytest.mark.timeout(360)  # the first test of a session builds the venv
async def test_bare_install_is_a_working_library(bare_venv: BareVenv, emulators: Emulators) -> None:
    script = bare_venv.root / "use_the_library.py"
    script.write_text(LIBRARY_SCRIPT, encoding="utf-8")
    cfg = {
        "id": DEV_ID,
        "key": KEY,
        "port": emulators.device.port,
        "cloud": emulators.cloud.base_url,
        "client_id": CLOUD_ID,
        "secret": CLOUD_SECRET,
        "tasmota": emulators.tasmota.url,
        "stack": list(GATEWAY_STACK),
    }
    code, out, err = await _run_bare(bare_venv, str(bare_venv.python), str(script), json.dumps(cfg))
    assert code == 0, err
    result = json.loads(out)
    assert Path(result["tuyagate_file"]).is_relative_to(bare_venv.root / "venv")  # the installed copy
    assert result["importable"] == []  # fastapi, uvicorn, uvloop, ...: not installed at all
    assert result["loaded"] == []
    assert result["before"] == {"1": False, "2": 10}
    assert result["sent"] == ["lan", {"1": True, "2": 75}]
    assert result["after"] == ["lan", {"1": True, "2": 75}]
    assert emulators.device.dps == {"1": True, "2": 75}  # the device itself changed
    from tuyagate.sim.cloud_sample import sample_fleet

    assert result["cloud_names"] == sorted(d.name for d in sample_fleet().devices)
    assert result["tasmota_switch_1"] is True
    assert emulators.tasmota.emulator.power[0] is True


@pytest.mark.packaging
@pytest.mark.timeout(360)
async def test_bare_install_cli(bare_venv: BareVenv, emulators: Emulators, tmp_path: Path) -> None:
    tg = str(bare_venv.tuyagate)
    adhoc = ["--id", DEV_ID, "--ip", "127.0.0.1", "--port", str(emulators.device.port), "--key", KEY]
    data = {"TUYAGATE_DATA_DIR": str(tmp_path / "data")}

    # LAN from the shell, ad hoc and by name through the registry (the hub, the router, the vault).
    code, out, err = await _run_bare(bare_venv, tg, "set", *adhoc, "--version", "3.4", "1=true")
    assert (code, out, err) == (0, "ok\n", "")
    code, out, err = await _run_bare(bare_venv, tg, "status", *adhoc, "--version", "3.4", "--json")
    assert code == 0, err
    assert json.loads(out)["dps"] == {"1": True, "2": 10}
    add = ["devices", "add", "--name", "Bare plug", "--version", "3.4", "--key-stdin", *adhoc[:6]]
    code, _, err = await _run_bare(bare_venv, tg, *add, stdin=KEY + "\n", **data)
    assert code == 0, err
    code, out, err = await _run_bare(bare_venv, tg, "set", "Bare plug", "2=40", **data)
    assert code == 0, err
    assert emulators.device.dps["2"] == 40
    code, out, err = await _run_bare(bare_venv, tg, "tokens", "list", **data)
    assert (code, out) == (0, "no API tokens\n"), err

    # The HTTP servers say which extra they need, in one line, before anything starts.
    for argv, command in (
        (["serve"], "tuyagate serve"),
        (["demo"], "tuyagate demo"),
        (["sim", "cloud", "--client-id", "x", "--secret", "y"], "tuyagate sim cloud"),
        (["sim", "tasmota"], "tuyagate sim tasmota"),
        (["sim", "esphome"], "tuyagate sim esphome"),
    ):
        code, out, err = await _run_bare(bare_venv, tg, *argv, **data)
        assert (code, out, err) == (1, "", EXTRA_LINE.format(command=command) + "\n"), argv
    code, out, _ = await _run_bare(bare_venv, tg, "serve", "--help")
    assert code == 0
    assert "needs the gateway extra: pip install 'tuyagate[gateway]'" in " ".join(out.split())


@pytest.fixture(autouse=True)
def _no_leftovers_in_the_worktree() -> Iterator[None]:
    """The bare install builds from a copy: no ``build/`` or ``*.egg-info`` appears next to the sources."""
    before = {p.name for p in ROOT.iterdir()} | {p.name for p in (ROOT / "src").iterdir()}
    yield
    after = {p.name for p in ROOT.iterdir()} | {p.name for p in (ROOT / "src").iterdir()}
    assert after - before == set()
