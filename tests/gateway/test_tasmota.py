"""Tasmota-compatible API over real HTTP: Tasmota commands reach emulated Tuya devices, Tasmota-shaped answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import BULB, PLUG, SWITCH, Gateway, GatewayFactory, LiveHome
from tuyagate.gateway.auth import JsonTokenStore, create_token

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def cm(gw: Gateway, device: str, command: str, **params: str) -> tuple[int, dict[str, Any]]:
    r = await gw.client.get(f"/tasmota/{device}/cm", params={"cmnd": command, **params})
    return r.status_code, r.json()


async def test_power_single_and_multi_relay(gateway: Gateway, home: LiveHome) -> None:
    plug, switch = home.sim(PLUG), home.sim(SWITCH)
    assert await cm(gateway, PLUG, "Power Off") == (200, {"POWER": "OFF"})
    assert plug.dps["1"] is False
    assert await cm(gateway, PLUG, "Power") == (200, {"POWER": "OFF"})
    assert await cm(gateway, PLUG, "Power TOGGLE") == (200, {"POWER": "ON"})
    assert plug.dps == {**plug.dps, "1": True}
    switch_id = home.id(SWITCH)
    assert await cm(gateway, switch_id, "Power2 1") == (200, {"POWER2": "ON"})
    assert await cm(gateway, switch_id, "Power2") == (200, {"POWER2": "ON"})
    assert await cm(gateway, switch_id, "Power1 on") == (200, {"POWER1": "ON"})
    assert (switch.dps["1"], switch.dps["2"]) == (True, True)
    assert await cm(gateway, switch_id, "Power0 0") == (200, {"POWER1": "OFF", "POWER2": "OFF"})
    assert (switch.dps["1"], switch.dps["2"]) == (False, False)
    assert await cm(gateway, switch_id, "Power9 on") == (200, {"Command": "Unknown"})
    status, body = await cm(gateway, PLUG, "Power maybe")
    assert status == 422
    assert body["error"]["code"] == "invalid_value"


async def test_dimmer_ct_colour_on_a_bulb(gateway: Gateway, home: LiveHome) -> None:
    bulb = home.sim(BULB)
    status, body = await cm(gateway, BULB, "CT 153")  # white mode, coldest
    assert (status, body["CT"]) == (200, 153)
    assert (bulb.dps["23"], bulb.dps["21"]) == (1000, "white")
    status, body = await cm(gateway, BULB, "Dimmer 50")
    assert status == 200
    assert body["POWER"] == "ON"
    assert body["Dimmer"] == 50
    assert (bulb.dps["20"], bulb.dps["22"]) == (True, 505)  # 10 + (1000 - 10) * 0.5, schema range 10..1000
    status, body = await cm(gateway, BULB, "CT 500")
    assert body["CT"] == 500
    assert bulb.dps["23"] == 0
    status, body = await cm(gateway, BULB, "HSBColor 120,100,50")
    assert status == 200
    assert body["HSBColor"] == "120,100,50"
    assert body["Color"] == "008000"
    assert body["Dimmer"] == 50
    hsv = bulb.dps["24"]  # the schema writes the colour in the device's own format: hhhhssssvvvv hex
    assert (int(hsv[0:4], 16), int(hsv[4:8], 16), int(hsv[8:12], 16)) == (120, 1000, 500)
    assert bulb.dps["21"] == "colour"
    status, body = await cm(gateway, BULB, "Color FF0000")
    assert body["HSBColor"] == "0,100,100"
    assert body["Color"] == "FF0000"
    assert body["Channel"] == [100, 0, 0]
    # In colour mode the dimmer scales the colour's brightness.
    status, body = await cm(gateway, BULB, "Dimmer 20")
    assert body["HSBColor"] == "0,100,20"
    assert await cm(gateway, BULB, "Dimmer 0") == (200, {**body, "POWER": "OFF"})
    assert bulb.dps["20"] is False
    status, body = await cm(gateway, BULB, "CT 100")
    assert status == 422
    assert "153..500" in body["error"]["message"]
    assert await cm(gateway, PLUG, "CT 300") == (200, {"Command": "Unknown"})


async def test_status_state_and_backlog(gateway: Gateway, home: LiveHome) -> None:
    switch, switch_id = home.sim(SWITCH), home.id(SWITCH)
    commands = switch.stats.commands
    status, body = await cm(gateway, switch_id, "Backlog Power1 On;Power2 On; Power2 Off")
    assert (status, body) == (200, {"WARNING": "Enable weblog 2 if response expected"})
    assert (switch.dps["1"], switch.dps["2"]) == (True, False)  # in order: Power2 ended off
    assert switch.stats.commands == commands + 3
    status, body = await cm(gateway, switch_id, "Status 0")
    assert status == 200
    assert body["Status"]["DeviceName"] == SWITCH
    assert body["Status"]["Power"] == "01"  # relay 2 first, as Tasmota writes it
    assert body["StatusNET"]["IPAddress"] == switch.host
    assert body["StatusSTS"] == {"POWER1": "ON", "POWER2": "OFF"}
    assert (await cm(gateway, switch_id, "Status 11"))[1] == {"StatusSTS": body["StatusSTS"]}
    assert (await cm(gateway, BULB, "State"))[1]["POWER"] in ("ON", "OFF")
    assert await cm(gateway, PLUG, "Upgrade 1") == (200, {"Command": "Unknown"})
    status, body = await cm(gateway, "nope", "Power")
    assert status == 404
    assert body["error"]["code"] == "not_found"


async def test_a_tasmota_command_is_seen_as_an_event(gateway: Gateway, home: LiveHome) -> None:
    await cm(gateway, "Heater plug", "Power Off")
    async with gateway.client.stream("GET", "/api/v1/events", params={"device": "Heater plug"}) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if line == ": connected":
                break
        assert await cm(gateway, "Heater plug", "Power On") == (200, {"POWER": "ON"})

        async def first_state() -> str:
            async for line in lines:
                if line.startswith("data: ") and '"kind":"state"' in line:
                    return line
            return ""

        data = await asyncio.wait_for(first_state(), 10)
    assert '"1":true' in data
    assert home.sim("Heater plug").dps["1"] is True


async def test_tasmota_credentials(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    _, reader = create_token(store, "reader", "read")
    _, controller = create_token(store, "controller", "control")
    gw = await start_gateway()
    need = {"WARNING": "Need user=<username>&password=<password>"}
    url = f"/tasmota/{PLUG}/cm"
    r = await gw.client.get(url, params={"cmnd": "Power"})
    assert (r.status_code, r.json()) == (401, need)
    r = await gw.client.get(url, params={"cmnd": "Power Off", "user": "admin", "password": reader})
    assert r.status_code == 403
    r = await gw.client.get(url, params={"cmnd": "Power Off", "user": "admin", "password": controller})
    assert r.json() == {"POWER": "OFF"}
    r = await gw.client.get(url, params={"cmnd": "Power", "user": "admin", "password": reader})
    assert r.json() == {"POWER": "OFF"}
    r = await gw.client.get(url, params={"cmnd": "Power"}, headers={"Authorization": f"Bearer {controller}"})
    assert r.json() == {"POWER": "OFF"}
