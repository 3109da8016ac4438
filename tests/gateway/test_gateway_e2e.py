"""The gateway in front of the real router: registry + emulated fleet (LAN) + emulated cloud.

The same HTTP calls as the in-memory tests, but every command travels the Tuya LAN protocol to an
emulated device, so these check the promises that only the whole stack can keep: one TCP
connection per device under 200 concurrent HTTP clients, tinytuya's Cloud reaching a device over
the LAN through the cloud-compatible API, and falling back to the cloud when the LAN is gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import tinytuya

from tests.emulated_home import emulated_home, registry_with
from tests.gateway.conftest import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, make_settings
from tests.gateway.many_clients import many_clients
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import ServedApp, serve_app
from tuyagate.gateway.settings import GatewaySettings
from tuyagate.sim.cloud_tls import make_self_signed_cert
from tuyagate.sim.fleet import SimFleet

EMU_ID, EMU_SECRET = "gatewaye2e", "g" * 32


@dataclass
class Stack:
    fleet: SimFleet
    hub: Home
    served: ServedApp
    client: httpx.AsyncClient
    settings: GatewaySettings


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with emulated_home("127.0.3.1", EMU_ID, EMU_SECRET) as home:
        registry, vault = registry_with(home.manifest, tmp_path)
        cloud_client = TuyaCloudClient(EMU_ID, EMU_SECRET, base_url=home.cloud.base_url, retries=0, timeout=3)
        # Generous LAN share: 200 queued requests on one connection must not time out into the cloud.
        # (A slow machine, e.g. under coverage, needs the room: 100 commands are served one after another.)
        options = HubOptions(timeout=15.0, lan_timeout=12.0, retry_base=0.2, retry_cap=1.0, heartbeat_interval=5.0)
        hub = build_hub(registry, vault, cloud=cloud_client, options=options)
        settings = make_settings(tmp_path / "gw", request_timeout=16.0)
        served = await serve_app(create_app(settings, hub), "127.0.0.1", 0)
        client = httpx.AsyncClient(base_url=served.url, timeout=20.0)
        try:
            yield Stack(home.fleet, hub, served, client, settings)
        finally:
            await client.aclose()
            await served.stop()  # closes the hub too
            registry.close()


def _id(stack: Stack, name: str) -> str:
    return stack.hub.get(name).info.id


async def test_status_and_commands_over_the_lan(stack: Stack) -> None:
    names = [d["name"] for d in (await stack.client.get("/api/v1/devices")).json()["devices"]]
    assert "Desk plug" in names
    assert "Garden sensor" in names
    status = (await stack.client.get("/api/v1/devices/Desk plug/status", params={"refresh": "true"})).json()
    assert status["route"] == "lan"
    assert status["values"]["cur_voltage"] == 230.1
    sim = stack.fleet.sim_for(_id(stack, "Kettle plug"))
    r = await stack.client.post(
        "/api/v1/devices/Kettle plug/commands", json={"commands": [{"code": "switch_1", "value": True}]}
    )
    assert r.status_code == 200
    assert r.json()["route"] == "lan"
    assert sim.dps["1"] is True
    r = await stack.client.post(
        "/api/v1/devices/Hall light/commands", json={"commands": [{"code": "bright_value_v2", "value": 5000}]}
    )
    assert r.status_code == 422
    assert "between 10 and 1000" in r.json()["error"]["message"]


async def test_unknown_dps_are_refused_and_the_schema_is_described(stack: Stack) -> None:
    plug_id = _id(stack, "Desk plug")
    sim = stack.fleet.sim_for(plug_id)
    before = sim.stats.commands
    r = await stack.client.post(f"/api/v1/devices/{plug_id}/commands", json={"dps": {"77": 5}})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("no DP id 77 in this device's schema (known: switch_1 (1), ")
    assert sim.stats.commands == before
    status = (await stack.client.get(f"/api/v1/devices/{plug_id}/status", params={"refresh": "true"})).json()
    assert "77" not in status["dps"]
    schema = {e["code"]: e for e in (await stack.client.get(f"/api/v1/devices/{plug_id}")).json()["schema"]}
    power = schema["cur_power"]
    assert (power["dp_id"], power["type"], power["mode"], power["values"]["max"]) == (19, "Integer", "ro", 50000)
    assert (power["label"], power["unit"], power["max"], power["step"], power["read_only"]) == (
        "Power",
        "W",
        5000.0,
        0.1,
        True,
    )
    # A device with no schema at all takes DP ids as given, and the answer says they went unchecked.
    r = await stack.client.post("/api/v1/devices/Zigbee gateway/commands", json={"dps": {"101": 1}})
    assert (r.status_code, r.json()["validated"], r.json()["dps"]) == (200, False, {"101": 1})
    r = await stack.client.post("/api/v1/devices/Desk plug/commands", json={"dps": {"1": False}})
    assert r.json()["validated"] is True


async def test_two_hundred_clients_one_tcp_connection(stack: Stack) -> None:
    device_id = _id(stack, "Lamp plug")  # protocol 3.1
    sim = stack.fleet.sim_for(device_id)
    await stack.client.get(f"/api/v1/devices/{device_id}/status", params={"refresh": "true"})
    accepted = sim.stats.connections_accepted
    answers = await asyncio.wait_for(asyncio.to_thread(asyncio.run, many_clients(stack.served.url, device_id)), 60)
    assert answers == [(200, "lan")] * 200
    assert sim.stats.connections_accepted == accepted  # no new TCP connection to the device


async def test_tinytuya_cloud_command_reaches_the_device_over_lan(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tinytuya speaks only https: a second, TLS gateway app over the same (already started) hub.
    tls = make_self_signed_cert(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert_path))
    app = create_app(stack.settings, stack.hub, manage_manager=False)
    https = await serve_app(app, "127.0.0.1", 0, ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path))
    device_id = _id(stack, "Desk plug")
    sim = stack.fleet.sim_for(device_id)
    before = sim.stats.commands

    def session() -> dict[str, Any]:
        cloud = tinytuya.Cloud(apiRegion="eu", apiKey=CLOUD_CLIENT_ID, apiSecret=CLOUD_CLIENT_SECRET, initial_token="x")
        cloud.urlhost = https.url.removeprefix("https://")
        command = cloud.sendcommand(device_id, {"commands": [{"code": "switch_1", "value": False}]})
        return {"command": command, "status": cloud.getstatus(device_id)}

    try:
        out = await asyncio.wait_for(asyncio.to_thread(session), 30)
    finally:
        await https.stop()
    assert out["command"]["success"] is True
    assert sim.dps["1"] is False
    assert sim.stats.commands == before + 1
    assert {"code": "switch_1", "value": False} in out["status"]["result"]


async def test_tasmota_and_events_on_real_devices(stack: Stack) -> None:
    async with stack.client.stream("GET", "/api/v1/events", params={"device": "Heater plug"}) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if line == ": connected":
                break
        r = await stack.client.get("/tasmota/Heater plug/cm", params={"cmnd": "Power On"})
        assert r.json() == {"POWER": "ON"}

        async def first_state() -> str:
            async for line in lines:
                if line.startswith("data: ") and '"kind":"state"' in line:
                    return line
            return ""

        data = await asyncio.wait_for(first_state(), 10)
    assert '"1":true' in data


async def test_tasmota_light_commands_on_an_emulated_bulb(stack: Stack) -> None:
    light = stack.hub.get("Living room light")
    sim = stack.fleet.sim_for(light.info.id)
    for command, expected in (
        ("HSBColor 120,100,50", {"HSBColor": "120,100,50", "Color": "008000", "Dimmer": 50}),
        ("CT 500", {"CT": 500}),
        ("Dimmer 100", {"Dimmer": 100, "POWER": "ON"}),
    ):
        r = await stack.client.get(f"/tasmota/{light.info.id}/cm", params={"cmnd": command})
        assert r.status_code == 200, r.text
        body = r.json()
        assert {k: body[k] for k in expected} == expected, body
    status = (await stack.client.get(f"/api/v1/devices/{light.info.id}/status", params={"refresh": "true"})).json()
    assert status["values"]["work_mode"] == "white"
    assert status["values"]["bright_value_v2"] == 1000
    assert sim.dps[str(next(e["dp_id"] for e in light.schema_dict() if e["code"] == "temp_value_v2"))] == 0


async def test_lan_gone_falls_back_to_cloud_and_says_so(stack: Stack) -> None:
    device_id = _id(stack, "Kettle plug")
    sim = stack.fleet.sim_for(device_id)
    await sim.stop()
    started = time.monotonic()
    r = await stack.client.post(f"/api/v1/devices/{device_id}/commands", json={"dps": {"1": False}})
    assert time.monotonic() - started < 5.0
    assert r.status_code == 200
    assert (r.json()["route"], r.json()["fallback"]) == ("cloud", True)
    detail = (await stack.client.get(f"/api/v1/devices/{device_id}")).json()
    assert next(route for route in detail["routes"] if route["name"] == "lan")["healthy"] is False
    metrics = (await stack.client.get("/metrics")).text
    assert 'tuyagate_route_fallbacks_total{route="cloud"} 1' in metrics
