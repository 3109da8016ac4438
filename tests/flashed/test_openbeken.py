"""OpenBekenClient against the emulator in OpenBeken mode: what differs from Tasmota, and channels."""

from __future__ import annotations

import pytest

from tuyagate.errors import ValidationError
from tuyagate.flashed.errors import FlashedAuthError
from tuyagate.flashed.openbeken import OpenBekenClient

from .conftest import FAST


async def test_status_power_is_an_integer_and_energy_total_is_wh(tasmota) -> None:
    sim = await tasmota(mode="openbeken", relays=2)
    client = OpenBekenClient(sim.url, options=FAST)
    try:
        assert await client.command("POWER2 ON") == {"POWER1": "OFF", "POWER2": "ON"}
        doc = await client.status_all()
        assert doc["Status"]["Power"] == 2
        assert doc["StatusFWR"]["SDK"] == "obk"
        assert "ConsumptionTotal" in doc["StatusSNS"]["ENERGY"]
        assert "Total" not in doc["StatusSNS"]["ENERGY"]
        sim.emulator._total_kwh = 1.5  # 1500 Wh on the device
        values = await client.status()
        assert values["switch_1"] is False
        assert values["switch_2"] is True
        assert values["add_ele"] == pytest.approx(1.5, abs=0.001)
        assert values["cur_power"] == 60.0
    finally:
        await client.close()


async def test_unknown_command_answers_empty_object(tasmota) -> None:
    sim = await tasmota(mode="openbeken")
    client = OpenBekenClient(sim.url, options=FAST)
    try:
        assert await client.command("Frobnicate 1") == {}
        assert await client.backlog(["POWER ON", "POWER OFF"]) == {}
        assert sim.emulator.power == [False]
    finally:
        await client.close()


async def test_light_answers_the_full_state_with_decimal_color(tasmota) -> None:
    sim = await tasmota(mode="openbeken", light="rgbct", energy=False)
    client = OpenBekenClient(sim.url, options=FAST)
    try:
        answer = await client.command("HSBColor 120,100,100")
        assert answer["Color"] == "0,255,0"
        assert answer["POWER"] == "ON"
        assert answer["LedTable"] == "ON"
        assert await client.command("Dimmer") == {"Dimmer": 100}
        assert await client.set({"temp_value": 0}) == {
            "switch_1": True,
            "bright_value": 1000,
            "temp_value": 0,
            "colour_data": {"h": 120, "s": 1000, "v": 1000},
        }
        assert sim.emulator.light.ct == 500
        assert (await client.command("CT 153"))["CT"] == 500  # out of OpenBeken's 154..500: ignored
    finally:
        await client.close()


async def test_channel_api(tasmota) -> None:
    sim = await tasmota(mode="openbeken", relays=2, password="obk-pw")
    client = OpenBekenClient(sim.url, password="obk-pw", options=FAST)
    try:
        assert await client.channels() == {1: 0, 2: 0}
        assert await client.set_channel(2, 1) == 1
        assert await client.channels() == {1: 0, 2: 1}
        assert (await client.status())["switch_2"] is True
        with pytest.raises(ValidationError, match=r"0\.\.63"):
            await client.set_channel(64, 1)
    finally:
        await client.close()


async def test_basic_auth_only(tasmota) -> None:
    sim = await tasmota(mode="openbeken", password="obk-pw")
    bad = OpenBekenClient(sim.url, password="wrong", options=FAST)
    try:
        with pytest.raises(FlashedAuthError, match="HTTP 401"):
            await bad.command("POWER")
        with pytest.raises(FlashedAuthError):
            await bad.channels()
    finally:
        await bad.close()
