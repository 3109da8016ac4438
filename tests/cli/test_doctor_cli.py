"""`tuyagate doctor`: a registered device whose key changed, and a cloud login that expired (loopback only)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from tuyagate.cli.main import run
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.cloud_login import save_cloud_login
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.sim.cloud_sample import sample_fleet
from tuyagate.sim.cloud_server import start_cloud_server
from tuyagate.sim.cloud_state import CloudConfig
from tuyagate.sim.device import SimDevice

DEV_ID, KEY, OLD_KEY = "bfdoctorcli000000001", "0123456789abcdef", "fedcba9876543210"
CLIENT_ID, SECRET = "emuclientid000000001", "emusecret0123456789abcdefabcdef0"  # test values


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TUYAGATE_MASTER_KEY", "TUYAGATE_DATA_DIR", "TUYAGATE_LOCAL_KEY"):
        monkeypatch.delenv(var, raising=False)
    for var in ("CLIENT_ID", "SECRET", "REGION", "BASE_URL", "CA_BUNDLE"):
        monkeypatch.delenv(f"TUYAGATE_CLOUD_{var}", raising=False)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _cli(*argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run, list(argv)), 20.0)


def _register(data: Path, sim: SimDevice, key: str, login: CloudCredentials | None) -> None:
    with Registry.open(data) as registry:
        vault = Vault.open(registry.db, data, env={})
        registry.add(DeviceRecord(id=DEV_ID, name="Desk plug", address=sim.host, port=sim.port, version="3.4"))
        vault.put(secret_name(DEV_ID), key)
        if login is not None:
            save_cloud_login(registry, vault, login)


def _argv(data: Path) -> list[str]:
    listen, probe = _free_udp_port(), _free_udp_port()
    argv = ["doctor", "Desk plug", "--listen", "127.0.0.1", "--ports", str(listen), "--probe-port", str(probe)]
    return [*argv, "--listen-for", "0.3", "--timeout", "1", "--data-dir", str(data)]


async def test_a_re_paired_device_and_an_expired_cloud_login(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud = await start_cloud_server(CloudConfig(CLIENT_ID, SECRET), sample_fleet())
    sim = SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4", wrong_key="answer")
    await sim.start()
    try:
        stale = CloudCredentials(client_id=CLIENT_ID, secret="revoked" + SECRET[7:], base_url=cloud.base_url)
        _register(tmp_path, sim, OLD_KEY, stale)
        assert await _cli(*_argv(tmp_path), "--json") == 1
        out = capsys.readouterr()
        assert await _cli(*_argv(tmp_path)) == 1
        text = capsys.readouterr()
    finally:
        await sim.stop()
        await cloud.stop()
    report = json.loads(out.out)
    codes = [f["code"] for f in report["findings"]]
    assert report["name"] == "Desk plug"
    assert report["healthy"] is False
    assert "wrong_key" in codes
    assert "cloud_login_expired" in codes
    assert "tuyagate cloud sync" in next(f["advice"] for f in report["findings"] if f["code"] == "wrong_key")
    assert "tuyagate cloud login" in next(f["advice"] for f in report["findings"] if f["code"] == "cloud_login_expired")
    assert "Desk plug (bfdoctorcli000000001)" in text.out
    assert "PROBLEM wrong_key" in text.out
    for secret in (KEY, OLD_KEY, SECRET, stale.secret):
        assert secret not in out.out + out.err + text.out + text.err


async def test_a_healthy_device_with_a_good_cloud_login(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cloud = await start_cloud_server(CloudConfig(CLIENT_ID, SECRET), sample_fleet())
    sim = SimDevice(device_id=DEV_ID, local_key=KEY, version="3.4")
    await sim.start()
    try:
        _register(tmp_path, sim, KEY, CloudCredentials(client_id=CLIENT_ID, secret=SECRET, base_url=cloud.base_url))
        assert await _cli(*_argv(tmp_path), "--json") == 0
    finally:
        await sim.stop()
        await cloud.stop()
    codes = [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert {"answers", "cloud_login", "port_open"} <= set(codes)


async def test_doctor_needs_a_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("doctor") != 0
    assert "name a device" in capsys.readouterr().err
