"""The CLI side of battery-powered devices: ``devices add --sleepy`` and ``sim device --sleep-every``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tuyagate.cli.main import run
from tuyagate.devices.registry import Registry

KEY = "0123456789abcdef"
DEV_ID = "bf00000000000000sl01"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TUYAGATE_MASTER_KEY", "TUYAGATE_DATA_DIR", "TUYAGATE_LOCAL_KEY"):
        monkeypatch.delenv(var, raising=False)


def _settings(data: Path) -> dict[str, object]:
    registry = Registry.open(data)
    try:
        return dict(registry.get(DEV_ID).settings)
    finally:
        registry.close()


def test_devices_add_marks_a_battery_device_and_unmarks_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    base = ["devices", "add", "--id", DEV_ID, "--data-dir", data]
    assert run([*base, "--name", "Hall sensor", "--ip", "127.0.0.1", "--key", KEY, "--sleepy"]) == 0
    assert _settings(tmp_path) == {"sleepy": True}
    assert run([*base, "--wakes-every", "600"]) == 0  # a wake interval alone implies sleepy
    assert _settings(tmp_path) == {"sleepy": True, "wakes_every": 600.0}
    assert run([*base, "--no-sleepy"]) == 0
    assert _settings(tmp_path) == {}
    capsys.readouterr()
    assert run([*base, "--wakes-every", "0"]) != 0
    assert "--wakes-every must be a positive" in capsys.readouterr().err
    assert (
        run(["devices", "add", "--backend", "tasmota", "--url", "http://127.0.0.1:9", "--name", "P", "--sleepy"]) != 0
    )
    assert "not reflashed ones" in capsys.readouterr().err


async def _connects(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _until_connects(port: int, want: bool, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while await _connects(port) is not want:
        assert loop.time() < end, f"the port never became {'open' if want else 'closed'}"
        await asyncio.sleep(0.05)


async def test_sim_device_sleeps_with_its_port_closed_and_wakes_again() -> None:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tuyagate.cli", "sim", "device", "--id", DEV_ID, "--key", KEY, "--port", "0"),
        *("--sleep-every", "0.8", "--awake-for", "0.8", "--dps", '{"1": 215, "4": 80}'),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            ready = json.loads(await proc.stdout.readline())
        assert ready["sleep_every"] == 0.8
        assert ready["awake_for"] == 0.8
        port = int(ready["port"])
        await _until_connects(port, True, 10.0)
        await _until_connects(port, False, 10.0)  # asleep: refused
        await _until_connects(port, True, 10.0)  # awake again, on the same port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
