"""TasmotaClient against the emulator: every command family, auth, faults, a device that goes away."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from tuyagate.errors import DeviceError, ProtocolError, TuyaConnectionRefused, TuyaTimeoutError, ValidationError
from tuyagate.flashed.errors import FlashedAuthError
from tuyagate.flashed.http_base import HttpOptions
from tuyagate.flashed.tasmota import TasmotaClient, parse_power_field

from .conftest import FAST


async def test_power_commands(tasmota) -> None:
    sim = await tasmota(relays=3)
    client = TasmotaClient(sim.url, options=FAST)
    try:
        assert await client.command("Power2 ON") == {"POWER2": "ON"}
        assert await client.command("Power2") == {"POWER2": "ON"}
        assert await client.command("power2 toggle") == {"POWER2": "OFF"}
        assert await client.command("Power0 1") == {"POWER1": "ON", "POWER2": "ON", "POWER3": "ON"}
        assert await client.command("Power3 0") == {"POWER3": "OFF"}
        assert sim.emulator.power == [True, True, False]
        with pytest.raises(DeviceError, match="does not know the command 'Power4'"):
            await client.command("Power4 ON")
    finally:
        await client.close()


async def test_single_relay_answers_plain_power(tasmota) -> None:
    sim = await tasmota(relays=1)
    client = TasmotaClient(sim.url, options=FAST)
    try:
        assert await client.command("Power1 On") == {"POWER": "ON"}
        assert await client.status() == {
            "switch_1": True,
            "cur_power": 60.0,
            "cur_voltage": 230.0,
            "cur_current": 261,
            "add_ele": 0.0,
        }
    finally:
        await client.close()


async def test_light_commands_and_their_codes(tasmota) -> None:
    sim = await tasmota(relays=1, light="rgbct", energy=False)
    client = TasmotaClient(sim.url, options=FAST)
    try:
        answer = await client.command("Dimmer 40")
        assert answer["POWER"] == "ON"
        assert answer["Dimmer"] == 40
        assert answer["HSBColor"] == "0,0,40"
        assert (await client.command("CT 326"))["CT"] == 326
        assert (await client.command("HSBColor 120,100,50"))["Color"] == "008000"
        assert (await client.command("Color FF8000"))["HSBColor"] == "30,100,100"
        assert (await client.command("Color 0,0,255"))["HSBColor"] == "240,100,100"
        assert await client.status() == {
            "switch_1": True,
            "bright_value": 1000,
            "temp_value": 501,
            "colour_data": {"h": 240, "s": 1000, "v": 1000},
        }
        assert await client.set({"bright_value": 250}) == {
            "switch_1": True,
            "bright_value": 250,
            "temp_value": 501,
            "colour_data": {"h": 240, "s": 1000, "v": 250},
        }
        assert sim.emulator.commands[-1] == "Dimmer 25"
    finally:
        await client.close()


async def test_status_sections_and_bit_string_power(tasmota) -> None:
    sim = await tasmota(relays=3)
    client = TasmotaClient(sim.url, options=FAST)
    try:
        await client.command("Power1 ON")
        await client.command("Power2 ON")
        doc = await client.status_all()
        assert doc["Status"]["Power"] == "011"
        assert set(doc) == {
            "Status",
            "StatusPRM",
            "StatusFWR",
            "StatusLOG",
            "StatusMEM",
            "StatusNET",
            "StatusMQT",
            "StatusTIM",
            "StatusSNS",
            "StatusSTS",
        }
        assert doc["StatusSTS"]["POWER1"] == "ON"
        assert doc["StatusSTS"]["POWER3"] == "OFF"
        assert set(await client.command("Status 8")) == {"StatusSNS"}
        assert set(await client.command("Status 11")) == {"StatusSTS"}
        assert set(await client.command("Status")) == {"Status"}
        values = await client.status()
        assert (values["switch_1"], values["switch_2"], values["switch_3"]) == (True, True, False)
        assert (values["cur_power"], values["cur_current"]) == (120.0, 522)
    finally:
        await client.close()


def test_status_power_field_both_generations() -> None:
    assert parse_power_field("011", 3) == {"switch_1": True, "switch_2": True, "switch_3": False}
    assert parse_power_field(5, 3) == {"switch_1": True, "switch_2": False, "switch_3": True}
    assert parse_power_field("1", 1) == {"switch_1": True}
    for bad in ("ON", "", 1.5, None):
        with pytest.raises(ProtocolError, match=r"Status\.Power"):
            parse_power_field(bad, 2)


async def test_status_falls_back_to_status_power_when_sts_has_no_power(tasmota) -> None:
    sim = await tasmota(relays=2)
    client = TasmotaClient(sim.url, options=FAST)
    try:
        await client.command("Power2 ON")
        doc = await client.status_all()
        doc["StatusSTS"] = {k: v for k, v in doc["StatusSTS"].items() if not k.startswith("POWER")}
        assert client.parse_status(doc)["switch_2"] is True
    finally:
        await client.close()


async def test_multi_value_set_goes_as_one_backlog(tasmota) -> None:
    sim = await tasmota(relays=2, light="rgbct")
    client = TasmotaClient(sim.url, options=FAST)
    try:
        expected = await client.set({"switch_2": True, "bright_value": 505, "temp_value": 0})
        assert expected == {"switch_2": True, "bright_value": 510, "temp_value": 0}
        assert sim.emulator.commands[-4:] == [
            "Backlog Power2 ON; Dimmer 51; CT 500",
            "Power2 ON",
            "Dimmer 51",
            "CT 500",
        ]
        values = await client.status()
        assert (values["switch_2"], values["bright_value"], values["temp_value"]) == (True, 510, 0)
        assert await client.backlog(["Power1 OFF", "Power2 OFF"]) == {}
        with pytest.raises(ValidationError, match=";"):
            await client.backlog(["Power1 OFF; Power2 ON"])
    finally:
        await client.close()


async def test_post_form_body_and_missing_command(tasmota) -> None:
    sim = await tasmota(relays=1)
    async with httpx.AsyncClient(base_url=sim.url) as http:
        answer = await http.post("/cm", data={"cmnd": "Power ON"})
        assert (answer.status_code, answer.json()) == (200, {"POWER": "ON"})
        answer = await http.get("/cm")
        assert answer.json() == {"WARNING": "Enter command cmnd="}


async def test_unknown_and_empty_commands(tasmota) -> None:
    sim = await tasmota()
    client = TasmotaClient(sim.url, options=FAST)
    try:
        with pytest.raises(DeviceError, match="does not know the command 'Frobnicate'"):
            await client.command("Frobnicate 1")
        with pytest.raises(DeviceError, match="does not know the command 'Dimmer'"):
            await client.command("Dimmer 50")  # no light on this device
        with pytest.raises(ValidationError):
            await client.command("   ")
        with pytest.raises(ValidationError, match="cur_power cannot be set on Tasmota"):
            client.commands_for({"cur_power": 1})
    finally:
        await client.close()


async def test_auth_basic_ok_and_wrong_password(tasmota, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim = await tasmota(password="s3cret-pw")
    good = TasmotaClient(sim.url, password="s3cret-pw", options=FAST)
    bad = TasmotaClient(sim.url, password="wrong-pw", options=FAST)
    none = TasmotaClient(sim.url, options=FAST)
    try:
        assert await good.command("Power ON") == {"POWER": "ON"}
        for client in (bad, none):
            with pytest.raises(FlashedAuthError, match="HTTP 401") as info:
                await client.command("Power")
            assert "wrong-pw" not in str(info.value)
        assert "s3cret-pw" not in caplog.text
        assert "wrong-pw" not in caplog.text
        assert "s3cret-pw" not in repr(good) + repr(good.transport)
    finally:
        for client in (good, bad, none):
            await client.close()


async def test_legacy_firmware_query_auth_fallback_and_warning(tasmota, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim = await tasmota(relays=2, password="old-pw", legacy=True)
    good = TasmotaClient(sim.url, password="old-pw", options=FAST)
    bad = TasmotaClient(sim.url, password="nope-pw", options=FAST)
    try:
        assert await good.command("Power1 ON") == {"POWER1": "ON"}  # Basic ignored, query accepted
        doc = await good.status_all()
        assert doc["Status"]["Power"] == 1
        assert doc["StatusFWR"]["Version"].startswith("9.")
        assert (await good.status())["switch_1"] is True
        assert await good.backlog(["Power2 ON"]) == {}  # legacy answers "Enable weblog 2 ..."
        with pytest.raises(FlashedAuthError, match="Need user"):
            await bad.command("Power1")
        assert "old-pw" not in caplog.text
        assert "nope-pw" not in caplog.text
    finally:
        await good.close()
        await bad.close()


async def test_garbage_and_http_errors_are_clear(tasmota) -> None:
    sim = await tasmota()
    client = TasmotaClient(sim.url, options=FAST)
    try:
        sim.emulator.faults.garbage = True
        with pytest.raises(ProtocolError, match=r"not JSON: '<html><body>\{\"POWER\":'"):
            await client.status()
        sim.emulator.faults.garbage = False
        sim.emulator.faults.status = 500
        with pytest.raises(DeviceError, match="HTTP 500") as info:
            await client.command("Power")
        assert info.value.code == 500
        sim.emulator.faults.status = 404
        with pytest.raises(ProtocolError, match="no /cm command endpoint"):
            await client.command("Power")
    finally:
        await client.close()


async def test_slow_device_times_out_within_the_deadline(tasmota) -> None:
    sim = await tasmota()
    sim.emulator.faults.delay = 2.0
    client = TasmotaClient(sim.url, options=HttpOptions(timeout=0.3, retries=3))
    try:
        started = time.monotonic()
        with pytest.raises(TuyaTimeoutError, match=r"did not answer within 0\.3 s"):
            await client.command("Power")
        assert time.monotonic() - started < 1.0
    finally:
        await client.close()


async def test_device_that_goes_away_is_refused_within_the_deadline(tasmota) -> None:
    sim = await tasmota()
    client = TasmotaClient(sim.url, options=HttpOptions(timeout=1.0, retries=2, backoff=0.05))
    try:
        assert await client.command("Power") == {"POWER": "OFF"}
        await sim.stop()
        started = time.monotonic()
        with pytest.raises(TuyaConnectionRefused, match=r"Tasmota at 127\.0\.0\.1:\d+ refused the connection"):
            await client.command("Power")
        assert time.monotonic() - started < 1.0
    finally:
        await client.close()
