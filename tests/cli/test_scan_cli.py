"""`tuyagate scan`: names and key status from the registry, the sweep's progress on stderr (loopback only)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from tuyagate.cli.main import run
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.sim.device import SimDevice

KEY = "0123456789abcdef"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _cli(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run, list(argv)), 15.0)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TUYAGATE_MASTER_KEY", "TUYAGATE_DATA_DIR", "TUYAGATE_LOCAL_KEY"):
        monkeypatch.delenv(var, raising=False)


async def test_scan_names_registered_devices_and_says_whose_key_is_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    registry.add(DeviceRecord(id="bfnamed0000000000001", name="Desk plug"))
    vault.put(secret_name("bfnamed0000000000001"), KEY)
    registry.add(DeviceRecord(id="bfnamed0000000000002", name="Hall lamp"))  # synced without a key
    registry.close()
    listen, probe_port = _free_udp_port(), _free_udp_port()
    devices = [
        SimDevice(
            device_id=f"bfnamed000000000000{n}",
            local_key=KEY,
            discovery_to=("127.0.0.1", listen),
            discovery_interval=0.1,
        )
        for n in (1, 2, 3)
    ]
    swept = SimDevice(
        device_id="bfswept0000000000004",
        local_key=KEY,
        version="3.5",
        host="127.0.74.20",
        port=6668,
        probe_port=probe_port,
    )
    for device in [*devices, swept]:
        await device.start()
    try:
        argv = ["scan", "--listen", "127.0.0.1", "--ports", str(listen), "--no-probe", "--duration", "8"]
        argv += ["--subnet", "127.0.74.0/24", "--sweep-probe-port", str(probe_port), "--count", "4"]
        assert await _cli(*argv, "--json", "--data-dir", str(tmp_path)) == 0
        out = capsys.readouterr()
        assert await _cli(*argv, "--data-dir", str(tmp_path)) == 0
        text = capsys.readouterr()
    finally:
        for device in [*devices, swept]:
            await device.stop()
    found = {d["id"]: d for d in json.loads(out.out)["devices"]}
    assert found["bfnamed0000000000001"]["name"] == "Desk plug"
    assert found["bfnamed0000000000001"]["key_known"]
    assert found["bfnamed0000000000002"]["name"] == "Hall lamp"
    assert not found["bfnamed0000000000002"]["key_known"]
    assert found["bfnamed0000000000003"]["name"] is None
    assert found["bfswept0000000000004"]["ip"] == "127.0.74.20"
    assert "sweeping 127.0.74.0/24" in out.err
    assert KEY not in out.out + out.err + text.out + text.err
    assert "Desk plug  key known" in text.out
    assert "key unknown: tuyagate cloud sync" in text.out


async def test_scan_without_registry_and_missing_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listen = _free_udp_port()
    argv = ["scan", "--listen", "127.0.0.1", "--ports", str(listen), "--no-probe", "--duration", "0.3", "--json"]
    assert await _cli(*argv, "--id", "bfnobody000000000001", "--data-dir", str(tmp_path / "none")) == 1
    out = json.loads(capsys.readouterr().out)
    assert out == {"devices": [], "unidentified": [], "missing": ["bfnobody000000000001"]}
    assert not (tmp_path / "none").exists()  # a scan never creates a registry


async def test_scan_still_reports_when_the_vault_is_locked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Registry.open(tmp_path) as registry:
        Vault.open(registry.db, tmp_path, env={})  # creates the key file
    monkeypatch.setenv("TUYAGATE_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")  # not the vault's key
    listen = _free_udp_port()
    argv = ["scan", "--listen", "127.0.0.1", "--ports", str(listen), "--no-probe", "--duration", "0.2", "--json"]
    assert await _cli(*argv, "--data-dir", str(tmp_path)) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["devices"] == []
    assert "names not shown" in captured.err
