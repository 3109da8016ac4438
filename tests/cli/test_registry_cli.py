"""`tuyagate devices ...` and `tuyagate cloud login/logout/sync`, run as the real CLI.

In-process through ``tuyagate.cli.main.run`` (in a worker thread when an emulator serves from the
test's event loop), and as a real subprocess. Every test has its own data directory.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from argparse import Namespace
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.emulated_home import emulated_home
from tuyagate.cli.context import hub_session
from tuyagate.cli.main import run
from tuyagate.devices.hub import HubOptions
from tuyagate.devices.registry import Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.sim.cloud_server import RunningCloud
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest

FIXTURES = Path(__file__).parent.parent / "devices" / "fixtures" / "tinytuya"
MASTER = "11" * 32  # test master keys, not real secrets
OTHER_MASTER = "22" * 32
CLIENT_ID, SECRET = "clitestclient", "c" * 32
KEY = "0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TUYAGATE_MASTER_KEY", "TUYAGATE_DATA_DIR", "TUYAGATE_LOCAL_KEY"):
        monkeypatch.delenv(var, raising=False)
    for var in ("CLIENT_ID", "SECRET", "REGION", "BASE_URL", "CA_BUNDLE"):
        monkeypatch.delenv(f"TUYAGATE_CLOUD_{var}", raising=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def cli(data: Path, *argv: str) -> int:
    return run([*argv, "--data-dir", str(data)])


async def acli(data: Path, *argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(cli, data, *argv), 20.0)


def _db_bytes(data: Path) -> bytes:
    """The database and its WAL, as they are on disk."""
    return b"".join(p.read_bytes() for p in data.glob("tuyagate.db*"))


def out_json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


# ---- devices add / list / remove -----------------------------------------------------------------


def test_add_list_remove_stock_sub_and_tasmota_devices(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUYAGATE_MASTER_KEY", MASTER)
    assert (
        cli(
            data,
            "devices",
            "add",
            "--id",
            "bfplug000000000000001",
            "--name",
            "Desk plug",
            "--ip",
            "192.168.1.50",
            "--key",
            KEY,
            "--version",
            "3.4",
            "--category",
            "cz",
        )
        == 0
    )
    assert capsys.readouterr().out == "added Desk plug (bfplug000000000000001, tuya-lan, 192.168.1.50:6668)\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("GwKeyGwKeyGwKey1\n"))
    assert (
        cli(
            data,
            "devices",
            "add",
            "--id",
            "bfgw00000000000000001",
            "--name",
            "Hub",
            "--ip",
            "192.168.1.60",
            "--port",
            "6669",
            "--key-stdin",
            "--version",
            "device22",
        )
        == 0
    )
    assert (
        cli(
            data,
            "devices",
            "add",
            "--id",
            "bfchild00000000000001",
            "--name",
            "Door sensor",
            "--parent",
            "hub",
            "--cid",
            "a4c13800aabbccdd",
        )
        == 0
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("tasmota-pw\n"))
    assert (
        cli(
            data,
            "devices",
            "add",
            "--backend",
            "tasmota",
            "--url",
            "http://192.168.1.80/",
            "--user",
            "admin",
            "--password-stdin",
            "--name",
            "Porch lamp",
        )
        == 0
    )
    capsys.readouterr()

    assert cli(data, "devices", "list", "--json") == 0
    rows = out_json(capsys)
    assert isinstance(rows, list)
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["Desk plug", "Door sensor", "Hub", "Porch lamp"]
    plug = by_name["Desk plug"]
    assert {k: plug[k] for k in ("id", "backend", "address", "port", "version", "category", "online")} == {
        "id": "bfplug000000000000001",
        "backend": "tuya-lan",
        "address": "192.168.1.50",
        "port": 6668,
        "version": "3.4",
        "category": "cz",
        "online": None,
    }
    assert (plug["dps"], plug["schema_source"], plug["has_local_key"]) == (2, "builtin", True)
    hub = by_name["Hub"]
    assert (hub["port"], hub["version"], hub["settings"]) == (6669, "device22", {})  # one spelling, as typed
    door = by_name["Door sensor"]
    assert (door["parent_id"], door["cid"], door["address"], door["has_local_key"]) == (
        "bfgw00000000000000001",
        "a4c13800aabbccdd",
        None,
        False,
    )
    lamp = by_name["Porch lamp"]
    assert (lamp["id"], lamp["backend"], lamp["settings"], lamp["has_password"]) == (
        "tasmota-porch-lamp",
        "tasmota",
        {"url": "http://192.168.1.80", "user": "admin"},
        True,
    )
    with Registry.open(data) as registry:
        vault = Vault.open(registry.db, data)
        assert vault.get(secret_name("bfgw00000000000000001")) == "GwKeyGwKeyGwKey1"
        assert vault.get(secret_name("tasmota-porch-lamp", "password")) == "tasmota-pw"

    assert cli(data, "devices", "list") == 0
    table = capsys.readouterr()
    assert table.out.splitlines()[0].split() == ["ID", "NAME", "BACKEND", "ADDRESS", "VERSION", "CATEGORY", "DPS"]
    assert "via bfgw00000000000000001 cid a4c13800aabbccdd" in table.out
    assert table.err == "4 device(s)\n"
    assert KEY not in table.out

    # the same --id again changes the device, keeping what is not given
    assert cli(data, "devices", "add", "--id", "bfplug000000000000001", "--ip", "192.168.1.99", "--json") == 0
    changed = out_json(capsys)
    assert isinstance(changed, dict)
    assert (changed["name"], changed["address"], changed["version"]) == ("Desk plug", "192.168.1.99", "3.4")

    assert cli(data, "devices", "remove", "Porch lamp", "desk plug") == 0
    assert capsys.readouterr().out.splitlines() == [
        "removed Porch lamp (tasmota-porch-lamp)",
        "removed Desk plug (bfplug000000000000001)",
    ]
    assert cli(data, "devices", "list", "--backend", "tasmota", "--json") == 0
    assert out_json(capsys) == []
    with Registry.open(data) as registry:
        assert Vault.open(registry.db, data).names() == ["device/bfgw00000000000000001/local_key"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--id", "bfx", "--name", "X", "--ip", "10.0.0.1"], "needs its local key"),
        (["--id", "bfx", "--name", "X", "--ip", "10.0.0.1", "--key", "short"], "16 characters"),
        (["--id", "bfx", "--ip", "10.0.0.1", "--key", KEY], "needs --name"),
        (["--id", "bfx", "--name", "X", "--key", KEY], "needs --ip"),
        (["--id", "bfx", "--name", "X", "--parent", "gw"], "both --parent"),
        (["--backend", "tasmota", "--name", "X", "--url", "http://h", "--ip", "10.0.0.1"], "--ip is for stock"),
        (["--backend", "esphome", "--name", "X"], "needs --name and --url"),
        (["--backend", "tasmota", "--name", "X", "--url", "ftp://h"], "must start with http"),
        (["--name", "X", "--url", "http://h"], "needs --backend"),
        (["--backend", "tasmota", "--name", "X", "--url", "http://admin:short@h"], "not inside --url"),
    ],
)
def test_add_refuses_incomplete_devices_with_one_line(
    data: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli(data, "devices", "add", *argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("tuyagate: error: ")
    assert message in captured.err
    assert "short" not in captured.err


def test_remove_unknown_device_fails_and_removes_nothing(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(data, "devices", "add", "--id", "bfa", "--name", "A", "--ip", "10.0.0.1", "--key", KEY) == 0
    assert cli(data, "devices", "remove", "A", "nope") == 1
    assert "no device with id or name 'nope'" in capsys.readouterr().err
    assert cli(data, "devices", "list", "--json") == 0
    assert [r["id"] for r in out_json(capsys)] == ["bfa"]


# ---- import --------------------------------------------------------------------------------------


def test_import_tinytuya_files(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices, snapshot = str(FIXTURES / "devices.json"), str(FIXTURES / "snapshot.json")
    assert cli(data, "devices", "import", devices, snapshot, "--json") == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert len(summary["added"]) == 6
    assert (summary["updated"], summary["unchanged"]) == ([], [])
    assert "entry 5 has no device id" in captured.err
    assert "a1B2c3D4e5F6g7H8" not in captured.out + captured.err

    assert cli(data, "devices", "list", "--json") == 0
    rows = {r["id"]: r for r in out_json(capsys)}
    plug = rows["bf3f7e6a2c1d4e5f6a7b8c"]
    assert (plug["name"], plug["address"], plug["version"], plug["schema_source"]) == (
        "Desk plug",
        "192.168.1.50",
        "3.3",
        "tinytuya",
    )
    assert rows["bf5566778899aabbccddee"]["parent_id"] == "bf00112233445566778899"
    assert rows["bfcc0011223344556677aa"]["backend"] == "tuya-cloud"
    assert rows["bf77665544332211009988"]["version"] == "device22"  # tinytuya's dev_type, in our spelling

    # again, only devices.json: nothing changes, the snapshot's addresses are kept
    assert cli(data, "devices", "import", devices) == 0
    assert capsys.readouterr().out == "imported 5 device(s): 0 added, 0 updated, 5 unchanged\n"
    with Registry.open(data) as registry:
        assert registry.get("Desk plug").address == "192.168.1.50"
        assert Vault.open(registry.db, data).get(secret_name("bf3f7e6a2c1d4e5f6a7b8c")) == "a1B2c3D4e5F6g7H8"


def test_import_refuses_other_files(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "tinytuya.json"
    project.write_text(json.dumps({"apiKey": "k", "apiSecret": "s", "apiRegion": "eu"}))
    assert cli(data, "devices", "import", str(project)) == 1
    assert "tuyagate cloud login" in capsys.readouterr().err
    assert cli(data, "devices", "import", str(tmp_path / "missing.json")) == 1
    assert "cannot read" in capsys.readouterr().err


# ---- rotate-key ----------------------------------------------------------------------------------


def test_rotate_key_from_env_prints_the_new_key(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUYAGATE_MASTER_KEY", MASTER)
    assert cli(data, "devices", "add", "--id", "bfa", "--name", "A", "--ip", "10.0.0.1", "--key", KEY) == 0
    capsys.readouterr()
    assert cli(data, "devices", "rotate-key") == 0
    captured = capsys.readouterr()
    new_key = captured.out.strip()
    assert len(new_key) == 64
    assert new_key != MASTER
    assert "TUYAGATE_MASTER_KEY" in captured.err
    assert not (data / "master.key").exists()

    assert cli(data, "devices", "list") == 1  # the old key no longer opens the vault
    assert "does not match" in capsys.readouterr().err
    monkeypatch.setenv("TUYAGATE_MASTER_KEY", new_key)
    assert cli(data, "devices", "list", "--json") == 0
    assert out_json(capsys)[0]["has_local_key"] is True
    with Registry.open(data) as registry:
        assert Vault.open(registry.db, data).get(secret_name("bfa")) == KEY


def test_rotate_key_file(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(data, "devices", "add", "--id", "bfa", "--name", "A", "--ip", "10.0.0.1", "--key", KEY) == 0
    old = (data / "master.key").read_text()
    assert cli(data, "devices", "rotate-key", "--json") == 0
    info = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert info == {"rotated": True, "secrets": 1, "key_source": "file", "key_file": str(data / "master.key")}
    assert (data / "master.key").read_text() != old
    assert (data / "master.key").stat().st_mode & 0o777 == 0o600
    assert cli(data, "devices", "list") == 0
    with Registry.open(data) as registry:
        assert Vault.open(registry.db, data).get(secret_name("bfa")) == KEY


# ---- cloud login / sync against the emulated cloud -----------------------------------------------


@dataclass
class Cloudy:
    manifest: FleetManifest
    fleet: SimFleet
    cloud: RunningCloud
    manifest_file: Path


@pytest.fixture
async def cloudy(tmp_path: Path) -> AsyncIterator[Cloudy]:
    async with emulated_home("127.0.4.1", CLIENT_ID, SECRET) as home:
        manifest_file = tmp_path / "fleet.json"
        home.manifest.save(manifest_file)  # after start: the ports are the bound ones, as `tuyagate sim fleet` writes
        yield Cloudy(home.manifest, home.fleet, home.cloud, manifest_file)


def _login_args(c: Cloudy, secret: str = SECRET) -> list[str]:
    return ["cloud", "login", "--base-url", c.cloud.base_url, "--client-id", CLIENT_ID, "--secret", secret]


async def test_login_with_a_wrong_secret_stores_nothing(
    data: Path, cloudy: Cloudy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await acli(data, *_login_args(cloudy, "w" * 32)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("tuyagate: error: cloud error 1004: sign invalid")
    assert "w" * 32 not in captured.err
    assert not (data / "tuyagate.db").exists()  # nothing was even created
    # a good login, then a wrong one: the good one stays
    assert await acli(data, *_login_args(cloudy)) == 0
    assert await acli(data, *_login_args(cloudy, "w" * 32)) == 1
    with Registry.open(data) as registry:
        assert registry.get_setting("cloud")["client_id"] == CLIENT_ID
        assert Vault.open(registry.db, data).get("cloud/secret") == SECRET


async def test_login_sync_import_then_every_device_by_name_lan_first(
    data: Path, cloudy: Cloudy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await acli(data, *_login_args(cloudy), "--json") == 0
    assert json.loads(capsys.readouterr().out) == {
        "logged_in": True,
        "kind": "developer",
        "client_id": CLIENT_ID,
        "base_url": cloudy.cloud.base_url,
        "region": None,
        "replaced": None,
    }
    assert SECRET.encode() not in _db_bytes(data)

    assert await acli(data, "cloud", "sync", "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["added"], report["updated"], report["unchanged"]) == (13, 0, 0)
    assert "fetching DP schemas 13/13" in captured.err
    for dev in cloudy.manifest.devices:
        assert dev.local_key not in captured.out + captured.err
    blob = _db_bytes(data)
    assert not any(dev.local_key.encode() in blob for dev in cloudy.manifest.devices)

    with Registry.open(data) as registry:
        vault = Vault.open(registry.db, data)
        for dev in cloudy.manifest.devices:
            rec = registry.get(dev.id)
            assert (rec.name, rec.address, rec.parent_id, rec.cid) == (dev.name, None, dev.parent_id, dev.cid)
            assert len(rec.schema) == len(dev.schema)
            assert vault.get(secret_name(dev.id)) == dev.local_key

    # hand-set LAN address, then sync again: kept
    desk = cloudy.manifest.devices[0]
    assert (
        await acli(
            data,
            "devices",
            "add",
            "--id",
            desk.id,
            "--ip",
            "127.0.4.1",
            "--port",
            str(desk.port),
            "--version",
            desk.version,
        )
        == 0
    )
    assert await acli(data, "cloud", "sync") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "13 cloud device(s): 0 added, 0 updated, 13 unchanged"
    with Registry.open(data) as registry:
        assert (registry.get(desk.id).address, registry.get(desk.id).port) == ("127.0.4.1", desk.port)

    # discovery's part: the fleet manifest gives every LAN address
    assert await acli(data, "devices", "import", str(cloudy.manifest_file)) == 0
    assert capsys.readouterr().out == "imported 13 device(s): 0 added, 13 updated, 0 unchanged\n"

    options = HubOptions(timeout=3.0, lan_timeout=1.0, retry_base=0.2, retry_cap=1.0)
    async with hub_session(Namespace(data_dir=str(data)), options=options) as hub:
        assert hub._cloud is not None  # the stored login gave the cloud route
        for dev in cloudy.manifest.devices:
            state = await hub.device(dev.name).status()
            assert state.route == ("lan" if dev.lan else "cloud"), dev.name
            if dev.status:
                assert state.dps == dev.status, dev.name
        for name in ("Desk plug", "Garage plug (Zigbee)", "Cellar plug (cloud only)"):
            result = await hub.device(name).set({"switch_1": True})
            assert (result.route, result.fallback) == ("cloud" if "cloud" in name else "lan", False)
    assert cloudy.fleet.sim_for(desk.id).dps["1"] is True
    garage = next(d for d in cloudy.manifest.devices if d.name == "Garage plug (Zigbee)")
    assert cloudy.fleet.sim_for(garage.id).children[garage.cid or ""].dps["1"] is True

    # a hub limited to one sub-device brings its gateway along
    async with hub_session(Namespace(data_dir=str(data)), names=["garden sensor"], options=options) as hub:
        assert sorted(d.info.name for d in hub.devices()) == ["Garden sensor", "Zigbee gateway"]
        assert (await hub.device("Garden sensor").status()).route == "lan"

    assert await acli(data, "cloud", "logout") == 0
    assert capsys.readouterr().out == "the stored cloud login is removed\n"
    assert await acli(data, "cloud", "sync") == 1
    assert "no cloud login" in capsys.readouterr().err


async def test_subprocess_login_from_stdin_sync_and_list(data: Path, cloudy: Cloudy, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUYAGATE_")}
    env["TUYAGATE_MASTER_KEY"] = OTHER_MASTER

    async def tuyagate(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tuyagate.cli",
            *argv,
            "--data-dir",
            str(data),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), 30.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    login = ["cloud", "login", "--base-url", cloudy.cloud.base_url, "--client-id", CLIENT_ID, "--secret-stdin"]
    code, out, err = await tuyagate(*login, stdin=SECRET.encode() + b"\n")
    assert (code, err) == (0, "")
    assert out.startswith(f"logged in to {cloudy.cloud.base_url} as {CLIENT_ID}")
    code, out, err = await tuyagate("cloud", "sync")
    assert code == 0, err
    assert out.splitlines()[-1] == "13 cloud device(s): 13 added, 0 updated, 0 unchanged"
    code, out, _ = await tuyagate("devices", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert sorted(r["id"] for r in rows) == sorted(d.id for d in cloudy.manifest.devices)
    assert all(r["has_local_key"] for r in rows)
    assert not any(d.local_key in out for d in cloudy.manifest.devices)
    assert not (data / "master.key").exists()  # the key came from the environment
    code, _, err = await tuyagate("cloud", "login", "--client-id", CLIENT_ID, "--secret-stdin", stdin=b"x\n")
    assert code == 1
    assert (
        err == "tuyagate: error: cloud login needs --region or --base-url (or the TUYAGATE_CLOUD_* variables, "
        "or a terminal to ask on)\n"
    )


# ---- prompts on a terminal, and which cloud login a command gets ---------------------------------


class FakeTerminal(io.StringIO):
    """Typed lines, on something that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_add_asks_for_the_key_on_a_terminal(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return KEY

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", FakeTerminal(""))
    assert cli(data, "devices", "add", "--id", "bfa", "--name", "A", "--ip", "10.0.0.1") == 0
    assert prompts == ["Local key: "]
    assert KEY not in capsys.readouterr().out
    with Registry.open(data) as registry:
        assert Vault.open(registry.db, data).get(secret_name("bfa")) == KEY


async def test_cloud_login_asks_on_a_terminal(
    data: Path, cloudy: Cloudy, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": SECRET)
    monkeypatch.setattr(sys, "stdin", FakeTerminal(f"{CLIENT_ID}\n"))
    assert await acli(data, "cloud", "login", "--base-url", cloudy.cloud.base_url) == 0
    captured = capsys.readouterr()
    assert "Access ID (client id): " in captured.err
    assert SECRET not in captured.out + captured.err
    with Registry.open(data) as registry:
        assert registry.get_setting("cloud")["client_id"] == CLIENT_ID


def test_cloud_client_from_store(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuyagate.cli.context import cloud_client_from_store
    from tuyagate.errors import ConfigError

    data.mkdir()
    with Registry.open(data) as registry:
        vault = Vault.open(registry.db, data)
        monkeypatch.setenv("TUYAGATE_CLOUD_REGION", "eu")  # an endpoint alone is not a login
        assert cloud_client_from_store(registry, vault, Namespace()) is None
        monkeypatch.setenv("TUYAGATE_CLOUD_CLIENT_ID", "someid")  # half a login is an error
        with pytest.raises(ConfigError, match="--secret"):
            cloud_client_from_store(registry, vault, Namespace())


async def test_sync_without_a_stored_login_uses_options_or_environment(
    data: Path, cloudy: Cloudy, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = cloudy.cloud.base_url
    assert await acli(data, "cloud", "sync", "--base-url", url, "--client-id", CLIENT_ID, "--secret", "x" * 32) == 1
    assert "sign invalid" in capsys.readouterr().err
    for var, value in (("CLIENT_ID", CLIENT_ID), ("SECRET", SECRET), ("BASE_URL", url)):
        monkeypatch.setenv(f"TUYAGATE_CLOUD_{var}", value)
    assert await acli(data, "cloud", "sync") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "13 cloud device(s): 13 added, 0 updated, 0 unchanged"
    with Registry.open(data) as registry:
        assert registry.get_setting("cloud") is None  # a sync never stores a login


async def test_a_tasmota_device_added_by_the_cli_is_controlled_by_name(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuyagate.sim.tasmota import TasmotaConfig
    from tuyagate.sim.tasmota_app import start_tasmota

    sim = await start_tasmota(TasmotaConfig(password="porch-pw"))
    try:
        monkeypatch.setattr(sys, "stdin", io.StringIO("porch-pw\n"))
        add = ["devices", "add", "--backend", "tasmota", "--url", sim.url, "--user", "admin", "--password-stdin"]
        assert await acli(data, *add, "--name", "Porch lamp") == 0
        assert "porch-pw" not in capsys.readouterr().out
        async with hub_session(Namespace(data_dir=str(data)), names=["porch lamp"]) as hub:
            assert [d.info.name for d in hub.devices()] == ["Porch lamp"]
            lamp = hub.device("Porch lamp")
            result = await lamp.set({"switch_1": True})
            assert result.route == "tasmota"
            assert sim.emulator.power == [True]
            state = await lamp.status()
            assert state.values["switch_1"] is True
    finally:
        await sim.stop()
