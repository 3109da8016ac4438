"""``tuyagate demo``: the README's main command, end to end with real servers and emulators."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tuyagate.cli.demo import DemoWorld
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.devices.hub import HubOptions


@pytest.fixture
async def world() -> AsyncIterator[DemoWorld]:
    demo = DemoWorld(port=0, fleet_ip="127.0.5.1", fleet_port=0, options=HubOptions(timeout=3.0, lan_timeout=1.0))
    await demo.start()
    try:
        yield demo
    finally:
        await demo.stop()


def _id(devices: list[dict[str, Any]], name: str) -> str:
    return next(str(d["id"]) for d in devices if d["name"] == name)


async def test_switch_a_plug_through_each_api_style(world: DemoWorld) -> None:
    assert world.fleet is not None
    async with httpx.AsyncClient(base_url=world.url, timeout=5) as http:
        devices = (await http.get("/api/v1/devices")).json()["devices"]
        assert len(devices) == 15
        assert {d["backend"] for d in devices} == {"tuya-lan", "tuya-cloud", "tasmota", "esphome"}
        plug = _id(devices, "Desk plug")
        sim = world.fleet.sim_for(plug)

        r = await http.post(
            f"/api/v1/devices/{plug}/commands", json={"commands": [{"code": "switch_1", "value": True}]}
        )
        assert r.status_code == 200
        assert (r.json()["route"], sim.dps["1"]) == ("lan", True)

        r = await http.get(f"/tasmota/{plug}/cm", params={"cmnd": "Power Off"})
        assert r.json() == {"POWER": "OFF"}
        assert sim.dps["1"] is False

    async with TuyaCloudClient(world.client_id, world.secret, base_url=world.url, retries=0) as cloud:
        await cloud.send_commands(plug, [{"code": "switch_1", "value": True}])
        status = {item.code: item.value for item in await cloud.status(plug)}
    assert status["switch_1"] is True
    assert sim.dps["1"] is True


async def test_every_backend_answers_status(world: DemoWorld) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=5) as http:
        devices = (await http.get("/api/v1/devices")).json()["devices"]
        routes = {}
        for device in devices:
            r = await http.get(f"/api/v1/devices/{device['id']}/status", params={"refresh": "true"})
            assert r.status_code == 200, (device["name"], r.text)
            routes[device["name"]] = r.json()["route"]
    assert routes["Cellar plug (cloud only)"] == "cloud"
    assert routes["Garden sensor"] == "lan"
    assert routes["Porch plug (Tasmota)"] == "tasmota"
    assert routes["Garden pump (ESPHome)"] == "esphome"
    assert routes["Lamp plug"] == "lan"  # protocol 3.1


async def test_cloud_only_plug_shows_live_changes_in_sse(world: DemoWorld) -> None:
    """The demo follows its emulated cloud's message service: a change the cloud pushes reaches SSE."""
    from tests.gateway.test_events_and_failures import SSE

    assert world.hub is not None
    cellar = world.hub.device("Cellar plug (cloud only)").info.id
    async with httpx.AsyncClient(base_url=world.url, timeout=5) as api:
        before = (await api.get(f"/api/v1/devices/{cellar}/status")).json()["values"]["switch_1"]
        async with api.stream("GET", "/api/v1/events", params={"device": cellar}) as response:
            sse = SSE(response)
            await sse.connected()
            async with httpx.AsyncClient(base_url=world.cloud_base_url) as sim:
                changed = await sim.post(f"/_sim/devices/{cellar}", json={"dps": {"1": not before}})
                assert changed.status_code == 200
            [(kind, data)] = await sse.events(1)
    assert kind == "state"
    assert (data["values"], data["route"]) == ({"switch_1": not before}, "cloud")


async def test_bad_value_is_a_422_naming_the_range(world: DemoWorld) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=5) as http:
        devices = (await http.get("/api/v1/devices")).json()["devices"]
        light = _id(devices, "Living room light")
        r = await http.post(
            f"/api/v1/devices/{light}/commands", json={"commands": [{"code": "bright_value_v2", "value": 5000}]}
        )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_value"
    assert "between 10 and 1000" in r.json()["error"]["message"]


@pytest.fixture
def demo_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    data_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tuyagate.cli", "demo", "--port", "0"),
            *("--fleet-ip", "127.0.6.1", "--fleet-port", "0", "--data-dir", str(data_dir)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        yield proc, info
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert not data_dir.exists()  # the throw-away registry and the runtime file are gone after a clean stop


def test_demo_command_prints_its_json_line_and_serves(
    demo_process: tuple[subprocess.Popen[str], dict[str, Any]],
) -> None:
    proc, info = demo_process
    assert set(info) >= {"url", "client_id", "secret"}
    assert info["url"].startswith("http://127.0.0.1:")
    assert info["devices"] == 15
    runtime = Path(info["data_dir"]) / "gateway.json"
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o600
    assert json.loads(runtime.read_text()) == {
        "url": info["url"],
        "pid": proc.pid,
        "started_at": pytest.approx(time.time(), abs=120),
    }
    r = httpx.get(info["url"] + "/healthz", timeout=5)
    assert r.status_code == 200
    r = httpx.get(info["url"] + "/openapi.json", timeout=5)
    assert "/api/v1/devices/{device_id}/commands" in r.json()["paths"]
