"""EspHomeClient against the emulator: discovery in all id formats, every domain, auth, faults, SSE."""

from __future__ import annotations

import asyncio
import time

import pytest

from tuyagate.errors import DeviceError, NotFoundError, ProtocolError, TuyaConnectionRefused, TuyaTimeoutError
from tuyagate.flashed.errors import FlashedAuthError
from tuyagate.flashed.esphome import EspHomeClient
from tuyagate.flashed.esphome_map import EntityRef, bind, ref_from_state
from tuyagate.flashed.http_base import HttpOptions

from .conftest import FAST

CODES = {
    "switch_1",
    "switch_led",
    "bright_value",
    "temp_value",
    "colour_data",
    "cur_power",
    "cur_voltage",
    "cur_current",
    "add_ele",
    "temp_current",
    "binary_sensor_button",
    "control",
    "percent_control",
    "select_mode",
    "number_target",
    "button_restart",
}


@pytest.mark.parametrize("id_format", ["current", "transition", "legacy"])
async def test_discovery_and_codes_in_every_id_format(esphome, id_format: str) -> None:
    sim = await esphome(id_format=id_format)
    client = EspHomeClient(sim.url, options=FAST, discovery_quiet=0.1)
    try:
        desc = await client.describe()
        assert {s.code for s in desc.schema} == CODES
        labels = {d.code: d.label for d in desc.schema}  # the entity's own name where it has one
        assert (labels["switch_1"], labels["colour_data"], labels["number_target"]) == ("Relay", "Colour", "Target")
        assert desc.name == "esphome-sim"
        assert desc.product == "ESPHome"
        key = "Relay" if id_format != "legacy" else "relay"
        assert client.bindings[0].ref == EntityRef("switch", key)
        assert desc.state["switch_1"] is False
        assert desc.state["select_mode"] == "eco"
        values = await client.set({"switch_1": True})
        assert values == {"switch_1": True}
        assert (await client.status())["cur_power"] == 60.0
    finally:
        await client.close()


def test_codes_stay_unique_when_object_ids_repeat() -> None:
    docs = [
        {"id": "sensor/Temperature", "uom": "°C", "value": 20.0},
        {"id": "sensor/Garage/Temperature", "uom": "°C", "value": 5.0},
        {"id": "sensor/Shed/Temperature", "uom": "K", "value": 290.0},
        {"id": "sensor/Attic/Temperature", "uom": "K", "value": 300.0},
    ]
    codes = [spec.code for binding in bind(docs) for spec in binding.specs]
    assert codes == ["temp_current", "sensor_temperature", "sensor_temperature_2", "sensor_temperature_3"]


def test_entity_ids_of_all_generations() -> None:
    assert ref_from_state({"id": "sensor/Outside Temperature"}) == EntityRef("sensor", "Outside Temperature")
    assert ref_from_state({"id": "sensor-outside_temperature", "name_id": "sensor/Outside Temperature"}) == EntityRef(
        "sensor", "Outside Temperature"
    )
    assert ref_from_state({"id": "binary_sensor-door"}) == EntityRef("binary_sensor", "door")
    assert ref_from_state({"id": "light/Garage/Main Light"}) == EntityRef("light", "Garage/Main Light")
    with pytest.raises(ProtocolError, match="without a usable id"):
        ref_from_state({"id": 5})
    assert (
        EspHomeClient._path(EntityRef("light", "Garage/Main Light"), "turn_on") == "/light/Garage/Main%20Light/turn_on"
    )


async def test_every_domain_raw(esphome) -> None:
    sim = await esphome()
    client = EspHomeClient(sim.url, options=FAST)
    try:
        assert await client.entity("switch/Relay") == {"id": "switch/Relay", "value": False, "state": "OFF"}
        await client.call("switch/Relay", "toggle")
        assert (await client.entity("switch/Relay"))["state"] == "ON"
        await client.call("light/Light", "turn_on", {"brightness": "128", "r": "255", "g": "0", "b": "0"})
        light = await client.entity("light/Light")
        assert (light["state"], light["brightness"], light["color"]) == ("ON", 128, {"r": 255, "g": 0, "b": 0})
        assert (await client.entity("sensor/Power")) == {"id": "sensor/Power", "value": 120.0, "state": "120.0 W"}
        assert (await client.entity("sensor/Temperature", detail=True))["uom"] == "°C"
        await client.call("cover/Blind", "set", {"position": "0.25"})
        assert (await client.entity("cover/Blind"))["state"] == "OPEN"
        await client.call("cover/Blind", "close")
        assert (await client.entity("cover/Blind"))["state"] == "CLOSED"
        await client.call("select/Mode", "set", {"option": "boost"})
        assert (await client.entity("select/Mode"))["value"] == "boost"
        await client.call("number/Target", "set", {"value": "21.5"})
        assert (await client.entity("number/Target"))["value"] == 21.5
        await client.call("button/Restart", "press")
        with pytest.raises(NotFoundError, match="no entity switch/Nope"):
            await client.entity("switch/Nope")
        with pytest.raises(NotFoundError, match="no action 'explode'"):
            await client.call("switch/Relay", "explode")
        with pytest.raises(DeviceError, match="not supported") as info:
            await client.call("cover/Blind", "set", {"tilt": "0.5"})
        assert info.value.code == 409
    finally:
        await client.close()


async def test_light_codes_become_one_turn_on(esphome) -> None:
    sim = await esphome()
    client = EspHomeClient(sim.url, options=FAST, discovery_quiet=0.1)
    try:
        await client.describe()
        got = await client.set({"colour_data": {"h": 240, "s": 1000, "v": 1000}, "temp_value": 1000})
        assert got["switch_led"] is True
        assert got["colour_data"] == {"h": 240, "s": 1000, "v": 1000}
        assert got["temp_value"] == 1000
        light = next(e for e in sim.emulator.entities if e.domain == "light")
        assert (light.rgb, light.brightness, light.color_temp) == ((0, 0, 255), 255, 153)
        assert (await client.set({"switch_led": False}))["switch_led"] is False
        got = await client.set({"control": "close", "percent_control": 30, "button_restart": True})
        assert got == {"percent_control": 30}
    finally:
        await client.close()


async def test_configured_entities_skip_discovery(esphome) -> None:
    sim = await esphome(id_format="legacy")
    client = EspHomeClient(sim.url, options=FAST, entities=["switch-relay", "sensor-power"])
    try:
        desc = await client.describe()
        assert [s.code for s in desc.schema] == ["switch_1", "cur_power"]
        assert await client.status() == {"switch_1": False, "cur_power": 0.0}
    finally:
        await client.close()


async def test_basic_auth_everywhere(esphome) -> None:
    sim = await esphome(password="esp-pw")
    good = EspHomeClient(sim.url, password="esp-pw", options=FAST, discovery_quiet=0.1)
    bad = EspHomeClient(sim.url, password="bad-pw", options=FAST)
    try:
        assert (await good.describe()).schema
        for call in (bad.entity("switch/Relay"), bad.call("switch/Relay", "turn_on"), bad.describe()):
            with pytest.raises(FlashedAuthError, match="HTTP 401"):
                await call
        assert sim.emulator.entities[0].value is False
    finally:
        await good.close()
        await bad.close()


async def test_garbage_and_errors(esphome) -> None:
    sim = await esphome()
    client = EspHomeClient(sim.url, options=FAST)
    try:
        sim.emulator.faults.garbage = True
        with pytest.raises(ProtocolError, match=r"not JSON: '\{\"id\":\"switch/Relay\",\"state\":'"):
            await client.entity("switch/Relay")
        sim.emulator.faults.garbage = False
        sim.emulator.faults.status = 503
        with pytest.raises(DeviceError, match="HTTP 503"):
            await client.entity("switch/Relay")
        with pytest.raises(DeviceError, match="HTTP 503"):
            await client.call("switch/Relay", "turn_on")
    finally:
        await client.close()


async def test_raw_event_stream(esphome) -> None:
    sim = await esphome(ping_interval=0.2)
    client = EspHomeClient(sim.url, options=FAST)
    stream = client.stream()
    try:
        first = await asyncio.wait_for(anext(stream), 2)
        assert first.event == "ping"
        assert '"title":"esphome-sim"' in first.data
        assert first.retry == 30000
        dump = [await asyncio.wait_for(anext(stream), 2) for _ in sim.emulator.entities]
        assert all(e.event == "state" for e in dump)
        assert '"domain":"switch"' in dump[0].data
        sim.emulator.set_value("binary_sensor", "Button", True)
        async with asyncio.timeout(2):
            event = await anext(stream)
            while event.event != "state":  # a ping may come first
                event = await anext(stream)
        assert event.data == '{"id":"binary_sensor/Button","value":true,"state":"ON"}'
    finally:
        await stream.aclose()
        await client.close()


async def test_device_that_goes_away(esphome) -> None:
    sim = await esphome()
    client = EspHomeClient(sim.url, options=HttpOptions(timeout=1.0, retries=1, backoff=0.05))
    try:
        await client.entity("switch/Relay")
        await sim.stop()
        started = time.monotonic()
        with pytest.raises(TuyaConnectionRefused):
            await client.entity("switch/Relay")
        assert time.monotonic() - started < 1.0
    finally:
        await client.close()


async def test_discovery_of_a_silent_device_times_out(esphome) -> None:
    sim = await esphome()
    sim.emulator.faults.delay = 5.0  # the REST side stalls; /events still works, so point at a dead path
    client = EspHomeClient(sim.url, options=HttpOptions(timeout=0.3), entities=["switch/Relay"])
    try:
        started = time.monotonic()
        with pytest.raises(TuyaTimeoutError):
            await client.describe()
        assert time.monotonic() - started < 1.0
    finally:
        await client.close()
