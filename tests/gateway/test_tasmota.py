"""Tasmota-compatible API: command parsing, DP mapping and Tasmota-shaped answers over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Gateway, GatewayFactory
from tests.gateway.memory_devices import BULB_ID, PLUG_ID, STRIP_ID
from tuyagate.gateway.auth import JsonTokenStore, create_token
from tuyagate.gateway.tasmota_commands import LightModel, parse_command, plan


async def cm(gw: Gateway, device: str, command: str, **params: str) -> tuple[int, dict[str, Any]]:
    r = await gw.client.get(f"/tasmota/{device}/cm", params={"cmnd": command, **params})
    return r.status_code, r.json()


def test_parse_command() -> None:
    assert parse_command("Power1 on") == parse_command("POWER1%20on".replace("%20", " "))
    cmd = parse_command("HSBColor 120,100,50")
    assert (cmd.name, cmd.index, cmd.arg) == ("hsbcolor", None, "120,100,50")
    cmd = parse_command("power2")
    assert (cmd.name, cmd.index, cmd.arg) == ("power", 2, "")
    assert parse_command("Backlog Power On;Dimmer 50").arg == "Power On;Dimmer 50"


async def test_power_single_and_multi_relay(gateway: Gateway) -> None:
    assert await cm(gateway, "plug", "Power") == (200, {"POWER": "ON"})
    assert await cm(gateway, "plug", "Power Off") == (200, {"POWER": "OFF"})
    assert gateway.fleet.get(PLUG_ID).commands[-1] == {"1": False}
    assert await cm(gateway, "plug", "Power TOGGLE") == (200, {"POWER": "ON"})
    assert await cm(gateway, STRIP_ID, "Power2") == (200, {"POWER2": "ON"})
    assert await cm(gateway, STRIP_ID, "Power3 1") == (200, {"POWER3": "ON"})
    assert await cm(gateway, STRIP_ID, "Power0 0") == (200, {"POWER1": "OFF", "POWER2": "OFF", "POWER3": "OFF"})
    assert await cm(gateway, STRIP_ID, "Power9 on") == (200, {"Command": "Unknown"})
    status, body = await cm(gateway, "plug", "Power maybe")
    assert status == 422
    assert body["error"]["code"] == "invalid_value"


async def test_dimmer_ct_colour_on_a_bulb(gateway: Gateway) -> None:
    bulb = gateway.fleet.get(BULB_ID)
    status, body = await cm(gateway, "bulb", "Dimmer 50")
    assert status == 200
    assert body["POWER"] == "ON"
    assert body["Dimmer"] == 50
    assert bulb.commands[-1] == {"20": True, "22": 505}  # 10 + (1000 - 10) * 0.5, schema range 10..1000
    status, body = await cm(gateway, "bulb", "CT 153")
    assert body["CT"] == 153
    assert bulb.commands[-1] == {"23": 1000, "21": "white"}
    status, body = await cm(gateway, "bulb", "CT 500")
    assert body["CT"] == 500
    assert bulb.commands[-1]["23"] == 0
    status, body = await cm(gateway, "bulb", "HSBColor 120,100,50")
    assert status == 200
    assert body["HSBColor"] == "120,100,50"
    assert body["Color"] == "008000"
    assert body["Dimmer"] == 50
    assert json.loads(bulb.commands[-1]["24"]) == {"h": 120, "s": 1000, "v": 500}
    assert bulb.commands[-1]["21"] == "colour"
    status, body = await cm(gateway, "bulb", "Color FF0000")
    assert body["HSBColor"] == "0,100,100"
    assert body["Color"] == "FF0000"
    assert body["Channel"] == [100, 0, 0]
    # In colour mode the dimmer scales the colour's brightness.
    status, body = await cm(gateway, "bulb", "Dimmer 20")
    assert body["HSBColor"] == "0,100,20"
    assert await cm(gateway, "bulb", "Dimmer 0") == (200, {**body, "POWER": "OFF"})
    status, body = await cm(gateway, "bulb", "CT 100")
    assert status == 422
    assert "153..500" in body["error"]["message"]
    assert await cm(gateway, "plug", "CT 300") == (200, {"Command": "Unknown"})


async def test_status_state_and_backlog(gateway: Gateway) -> None:
    status, body = await cm(gateway, STRIP_ID, "Status 0")
    assert status == 200
    assert body["Status"]["DeviceName"] == "strip"
    assert body["Status"]["Power"] == "010"
    assert body["StatusNET"]["IPAddress"] == "127.0.0.12"
    assert body["StatusSTS"] == {"POWER1": "OFF", "POWER2": "ON", "POWER3": "OFF"}
    assert (await cm(gateway, STRIP_ID, "Status 11"))[1] == {"StatusSTS": body["StatusSTS"]}
    assert (await cm(gateway, "bulb", "State"))[1]["POWER"] == "ON"
    status, body = await cm(gateway, STRIP_ID, "Backlog Power1 On;Power3 On; Power2 Off")
    assert (status, body) == (200, {"WARNING": "Enable weblog 2 if response expected"})
    assert gateway.fleet.get(STRIP_ID).commands == [{"1": True}, {"3": True}, {"2": False}]
    assert await cm(gateway, "plug", "Upgrade 1") == (200, {"Command": "Unknown"})
    status, body = await cm(gateway, "nope", "Power")
    assert status == 404
    assert body["error"]["code"] == "not_found"


async def test_tasmota_credentials(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    _, reader = create_token(store, "reader", "read")
    _, controller = create_token(store, "controller", "control")
    gw = await start_gateway()
    need = {"WARNING": "Need user=<username>&password=<password>"}
    r = await gw.client.get("/tasmota/plug/cm", params={"cmnd": "Power"})
    assert (r.status_code, r.json()) == (401, need)
    r = await gw.client.get("/tasmota/plug/cm", params={"cmnd": "Power", "user": "admin", "password": reader})
    assert r.json() == {"POWER": "ON"}
    r = await gw.client.get("/tasmota/plug/cm", params={"cmnd": "Power Off", "user": "admin", "password": reader})
    assert r.status_code == 403
    r = await gw.client.get("/tasmota/plug/cm", params={"cmnd": "Power Off", "user": "admin", "password": controller})
    assert r.json() == {"POWER": "OFF"}
    r = await gw.client.get(
        "/tasmota/plug/cm", params={"cmnd": "Power"}, headers={"Authorization": f"Bearer {controller}"}
    )
    assert r.json() == {"POWER": "OFF"}


@pytest.mark.parametrize(
    ("schema_codes", "power"),
    [
        (["switch_1", "switch_2"], ("switch_1", "switch_2")),
        (["switch_led"], ("switch_led",)),
        (["switch"], ("switch",)),
    ],
)
def test_light_model_power_codes(schema_codes: list[str], power: tuple[str, ...]) -> None:
    schema = [
        {"dp_id": i + 1, "code": c, "type": "Boolean", "values": {}, "mode": "rw"} for i, c in enumerate(schema_codes)
    ]
    model = LightModel.from_schema(schema)
    assert model.power == power
    assert plan(model, parse_command("Power On"), {}).changes == {power[0]: True}


def test_colour_v1_hex_format() -> None:
    schema = [
        {"dp_id": 1, "code": "switch_led", "type": "Boolean", "values": {}, "mode": "rw"},
        {"dp_id": 5, "code": "colour_data", "type": "Json", "values": {}, "mode": "rw"},
    ]
    model = LightModel.from_schema(schema)
    changes = plan(model, parse_command("HSBColor 240,100,100"), {}).changes
    assert changes == {"colour_data": "00f000ff00ff", "switch_led": True}
