"""The bridge end to end: the demo home, a real Mosquitto broker and a plain MQTT client watching it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tests.mqtt.conftest import Site
from tests.mqtt.watch import Watcher
from tuyagate.device_api import Device


def _matches_cache(device: Device) -> Callable[[dict[str, Any]], bool]:
    """The state message carries every value of the device's cache (colours aside: shown as h/s/v)."""

    def check(state: dict[str, Any]) -> bool:
        cached = device.cached_state()
        values = cached.values if cached is not None else {}
        return all(state.get(code) == value for code, value in values.items() if not code.startswith("colour"))

    return check


def _matches_online(device: Device) -> Callable[[bytes], bool]:
    """The availability payload agrees with the device's own online flag (read when the message arrives)."""
    return lambda payload: payload == (b"online" if device.online else b"offline")


async def test_state_and_availability_are_retained_for_every_device(site: Site) -> None:
    hub = site.world.hub
    assert hub is not None
    async with Watcher(site.broker.port, ("tuyagate/#",)) as mqtt:
        assert await mqtt.wait("tuyagate/bridge/test/availability") == b"online"
        for device in hub.devices():
            topic = f"tuyagate/{device.info.id}/state"
            # the state topic shows the device's values by code, scaled as the HTTP API gives them (a device
            # read for the first time after the bridge started gets them in a later message)
            state = await mqtt.wait_json(topic, _matches_cache(device))
            assert {"online", "route"} <= set(state)
            assert await mqtt.wait(f"tuyagate/{device.info.id}/availability", _matches_online(device))
        retained = [s for s in mqtt.history if s.topic.endswith("/state")]
        assert len(retained) >= len(hub.devices())
        assert all(s.retain for s in retained[: len(hub.devices())])

        sensor = site.device_id("Garden sensor")
        assert (await mqtt.wait_json(f"tuyagate/{sensor}/state"))["gateway"] == site.device_id("Zigbee gateway")

        # A change on the device (a push over the LAN) reaches the state topic, scaled.
        plug = site.device_id("Desk plug")
        assert site.world.fleet is not None
        await site.world.fleet.sim_for(plug).set_dps({"19": 1234, "20": 2299})
        state = await mqtt.wait_json(f"tuyagate/{plug}/state", lambda s: s["cur_power"] == 123.4)
        assert (state["cur_voltage"], state["route"], state["online"]) == (229.9, "lan", True)


async def test_a_command_goes_from_mqtt_to_the_device_and_back_to_the_state_topic(site: Site) -> None:
    plug = site.device_id("Kettle plug")
    assert site.world.fleet is not None
    sim = site.world.fleet.sim_for(plug)
    async with Watcher(site.broker.port, (f"tuyagate/{plug}/#",)) as mqtt:
        await mqtt.wait_json(f"tuyagate/{plug}/state", lambda s: s["switch_1"] is False)
        mark = len(mqtt.history)
        await mqtt.publish(f"tuyagate/{plug}/set", {"switch_1": True})
        result = json.loads((await mqtt.next_on(f"tuyagate/{plug}/result", after=mark)).payload)
        assert result == {"ok": True, "route": "lan", "fallback": False, "dps": {"1": True}}
        assert sim.dps["1"] is True  # the emulated device itself switched
        await mqtt.wait_json(f"tuyagate/{plug}/state", lambda s: s["switch_1"] is True)

        # The Tuya cloud shape, with an id the result echoes; a number in user units is scaled for the wire.
        mark = len(mqtt.history)
        command = {"commands": [{"code": "switch_1", "value": False}, {"code": "countdown_1", "value": 60}], "id": "a1"}
        await mqtt.publish(f"tuyagate/{plug}/set", command)
        result = json.loads((await mqtt.next_on(f"tuyagate/{plug}/result", after=mark)).payload)
        assert (result["ok"], result["id"], result["dps"]) == (True, "a1", {"1": False, "9": 60})
        assert (sim.dps["1"], sim.dps["9"]) == (False, 60)
        await mqtt.wait_json(f"tuyagate/{plug}/state", lambda s: s["switch_1"] is False and s["countdown_1"] == 60)

    # A sub-device behind the Zigbee gateway is a device of its own.
    child = site.device_id("Garage plug (Zigbee)")
    async with Watcher(site.broker.port, (f"tuyagate/{child}/#",)) as mqtt:
        mark = len(mqtt.history)
        await mqtt.publish(f"tuyagate/{child}/set", {"dps": {"1": True}})
        result = json.loads((await mqtt.next_on(f"tuyagate/{child}/result", after=mark)).payload)
        assert result["ok"] is True
        await mqtt.wait_json(f"tuyagate/{child}/state", lambda s: s["switch_1"] is True)


async def test_invalid_commands_are_answered_on_the_result_topic_and_change_nothing(site: Site) -> None:
    light = site.device_id("Hall light")
    assert site.world.fleet is not None
    sim = site.world.fleet.sim_for(light)
    before = dict(sim.dps)
    cases: list[tuple[bytes, str, str]] = [
        (b"not json", "bad_request", "JSON object"),
        (b"[1, 2]", "invalid_request", "JSON object"),
        (b"{}", "invalid_request", "non-empty"),
        (json.dumps({"bright_value_v2": 5}).encode(), "invalid_value", "between 10 and 1000"),
        (json.dumps({"work_mode": "disco"}).encode(), "invalid_value", '"white", "colour"'),
        (json.dumps({"no_such_code": 1}).encode(), "unknown_dp", "no_such_code"),
        (json.dumps({"commands": "switch_led"}).encode(), "invalid_request", "non-empty list"),
        (json.dumps({"commands": [{"code": "switch_led"}]}).encode(), "invalid_request", '{"code"'),
        (json.dumps({"commands": [], "dps": {}}).encode(), "invalid_request", "exactly one"),
        (json.dumps({"colour_data_v2": {"h": 400}}).encode(), "invalid_value", "colour_data_v2.h"),
        (b"x" * (70 * 1024), "payload_too_large", "at most"),
    ]
    async with Watcher(site.broker.port, (f"tuyagate/{light}/#",)) as mqtt:
        for payload, code, words in cases:
            mark = len(mqtt.history)
            await mqtt.publish(f"tuyagate/{light}/set", payload)
            result = json.loads((await mqtt.next_on(f"tuyagate/{light}/result", after=mark)).payload)
            assert result["ok"] is False, payload[:40]
            assert result["error"]["code"] == code, (payload[:40], result)
            assert words in result["error"]["message"], (payload[:40], result)
        assert sim.dps == before
        # ... and the bridge still takes the next good one.
        mark = len(mqtt.history)
        await mqtt.publish(f"tuyagate/{light}/set", {"switch_led": True, "bright_value_v2": 700})
        assert json.loads((await mqtt.next_on(f"tuyagate/{light}/result", after=mark)).payload)["ok"] is True
        await mqtt.wait_json(f"tuyagate/{light}/state", lambda s: s["bright_value_v2"] == 700)


async def test_a_burst_of_changes_is_coalesced_and_the_last_value_always_sent(site: Site) -> None:
    plug = site.device_id("Heater plug")
    assert site.world.fleet is not None
    sim = site.world.fleet.sim_for(plug)
    topic = f"tuyagate/{plug}/state"
    async with Watcher(site.broker.port, (topic,)) as mqtt:
        await mqtt.wait_json(topic)
        mark = len(mqtt.history)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for watts in range(1, 101):  # a change every 10 ms for a second (pacing the load, not waiting on it)
            await sim.set_dps({"19": watts})
            await asyncio.sleep(0.01)
        await mqtt.wait_json(topic, lambda s: s["cur_power"] == 10.0)
        elapsed = loop.time() - started
        burst = [json.loads(s.payload) for s in mqtt.history[mark:] if s.topic == topic]
    assert burst[-1]["cur_power"] == 10.0
    # at most one message per 100 ms (plus the first, sent at once) while 100 changes arrived
    assert len(burst) <= int(elapsed / 0.1) + 2, (len(burst), elapsed)
    assert len(burst) < 30


async def test_home_assistant_coming_online_gets_discovery_again(site: Site) -> None:
    async with Watcher(site.broker.port, ("homeassistant/#",)) as mqtt:
        light = site.device_id("Living room light")
        topic = f"homeassistant/light/test/{light}_light/config"
        await mqtt.wait(topic)
        mark = len(mqtt.history)
        await mqtt.publish("homeassistant/status", "online")
        again = await mqtt.next_on(topic, after=mark)
        assert json.loads(again.payload)["unique_id"] == f"tuyagate_{light}_light"
