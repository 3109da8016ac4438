"""``tuyagate sim tasmota`` / ``sim esphome`` as real subprocesses: one JSON line, then served until SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tuyagate.flashed.esphome import EspHomeClient
from tuyagate.flashed.tasmota import TasmotaClient

from .conftest import FAST


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = dict(os.environ, TUYAGATE_SIM_PASSWORD="")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuyagate.cli", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15.0)
    if not ready:
        proc.kill()
        proc.wait(5)
        pytest.fail("the emulator printed nothing within 15 s")
    line = proc.stdout.readline()
    try:
        return proc, json.loads(line)
    except ValueError:
        proc.kill()
        _out, err = proc.communicate(timeout=5)
        pytest.fail(f"the emulator's first line is not JSON: {line!r}; stderr: {err[-2000:]}")


def _stop(proc: subprocess.Popen[str]) -> int:
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise


async def test_sim_tasmota_cli() -> None:
    proc, info = _start("tasmota", "--relays", "2", "--password", "cli-pw")
    try:
        assert info["port"] != 0
        assert info["url"] == f"http://127.0.0.1:{info['port']}"
        assert (info["backend"], info["relays"], info["auth"]) == ("tasmota", 2, True)
        assert "cli-pw" not in json.dumps(info)
        client = TasmotaClient(str(info["url"]), password="cli-pw", options=FAST)
        try:
            assert await client.command("Power2 ON") == {"POWER2": "ON"}
        finally:
            await client.close()
    finally:
        started = time.monotonic()
        assert _stop(proc) == 0
        assert time.monotonic() - started < 5
    assert proc.stdout is not None
    assert proc.stdout.read() == ""


async def test_sim_esphome_cli_legacy_ids_and_own_entities(tmp_path) -> None:
    entities = tmp_path / "entities.json"
    entities.write_text(
        json.dumps(
            [{"domain": "switch", "name": "Pump"}, {"domain": "sensor", "name": "Flow", "value": 2.5, "uom": "L"}]
        )
    )
    proc, info = _start("esphome", "--id-format", "legacy", "--entities", str(entities))
    try:
        assert info["backend"] == "esphome"
        assert info["entities"] == ["switch/Pump", "sensor/Flow"]
        client = EspHomeClient(str(info["url"]), options=FAST, discovery_quiet=0.1)
        try:
            assert (await client.entity("switch-pump"))["id"] == "switch-pump"
            assert await client.status() == {"switch_1": False, "sensor_flow": 2.5}
        finally:
            await client.close()
    finally:
        assert _stop(proc) == 0


def test_sim_esphome_cli_rejects_a_bad_entities_file(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"domain": "toaster", "name": "T"}]')
    result = subprocess.run(
        [sys.executable, "-m", "tuyagate.cli", "sim", "esphome", "--entities", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot use entities from" in result.stderr
    assert "needs a domain" in result.stderr
