"""Devices the home adds and removes while the bridge runs, on a real Mosquitto broker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.emulated_home import EmulatedHome, emulated_home, registry_with
from tests.mqtt.broker import MosquittoBroker
from tests.mqtt.conftest import fast_config
from tests.mqtt.watch import Watcher
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.mqtt.bridge import MqttBridge

LIGHT, PLUG = "Hall light", "Desk plug"


@dataclass
class Running:
    emulated: EmulatedHome
    registry: Registry
    vault: Vault
    home: Home
    bridge: MqttBridge
    light: DeviceRecord  # left out of the registry at start
    light_key: str


@pytest.fixture
async def running(tmp_path: Path, broker: MosquittoBroker) -> AsyncIterator[Running]:
    async with emulated_home("127.0.23.1", "runtimeclient", "r" * 32) as emulated:
        registry, vault = registry_with(emulated.manifest, tmp_path)
        light = registry.get(LIGHT)
        key = vault.get(secret_name(light.id))
        assert key
        registry.remove(light.id)
        home = build_hub(registry, vault, options=HubOptions(timeout=3.0, lan_timeout=3.0))
        await home.start()
        bridge = MqttBridge(home, fast_config(broker.url, node_id="rt"))
        try:
            await bridge.start()
            await bridge.wait_connected(15)
            yield Running(emulated, registry, vault, home, bridge, light, key)
        finally:
            await bridge.close()
            await home.close()
            registry.close()


def _light_payload(payload: bytes) -> bool:
    return bool(payload) and json.loads(payload).get("switch_led") is not None


async def test_a_device_added_at_runtime_is_published_and_takes_commands(
    running: Running, broker: MosquittoBroker
) -> None:
    light = running.light
    async with Watcher(broker.port) as mqtt:
        running.registry.upsert(light)
        running.vault.put(secret_name(light.id), running.light_key)
        assert (await running.home.reload()).added == (light.id,)
        config = json.loads(await mqtt.wait(f"homeassistant/light/rt/{light.id}_light/config"))
        assert config["command_topic"] == f"tuyagate/{light.id}/set"
        assert config["unique_id"].startswith("tuyagate_")
        assert await mqtt.wait(f"tuyagate/{light.id}/availability", lambda p: p == b"online") == b"online"
        state = json.loads(await mqtt.wait(f"tuyagate/{light.id}/state", _light_payload))
        assert state["online"] is True
        sim = running.emulated.fleet.sim_for(light.id)
        wanted = not state["switch_led"]
        command = {"commands": [{"code": "switch_led", "value": wanted}], "id": "r1"}
        await mqtt.publish(f"tuyagate/{light.id}/set", command)
        result = await mqtt.wait_json(f"tuyagate/{light.id}/result", lambda b: b.get("id") == "r1")
        assert result["ok"] is True, result
        assert sim.dps["20"] is wanted
        await mqtt.wait_json(f"tuyagate/{light.id}/state", lambda b: b.get("switch_led") is sim.dps["20"])


async def test_a_removed_device_leaves_nothing_retained_and_takes_no_command(
    running: Running, broker: MosquittoBroker
) -> None:
    plug = running.home.device(PLUG).info.id
    kettle = running.home.device("Kettle plug").info.id
    topics = [running.bridge.topics.discovery(e.component, e.object_id) for e in running.bridge.entities(plug)]
    assert len(topics) >= 3  # a switch, its sensors, ...
    async with Watcher(broker.port) as mqtt:
        for topic in topics:
            assert await mqtt.wait(topic)  # retained from the start
        running.registry.remove(plug)
        assert (await running.home.reload()).removed == (plug,)
        for topic in [*topics, f"tuyagate/{plug}/state", f"tuyagate/{plug}/availability"]:
            assert await mqtt.wait(topic, lambda p: p == b"") == b"", topic
        # Commands are handled in order: once the kettle's answer is there, none came for the plug.
        await mqtt.publish(f"tuyagate/{plug}/set", {"dps": {"1": True}, "id": "gone"})
        await mqtt.publish(f"tuyagate/{kettle}/set", {"dps": {"1": True}, "id": "here"})
        assert (await mqtt.wait_json(f"tuyagate/{kettle}/result", lambda b: b.get("id") == "here"))["ok"] is True
        assert mqtt.on(f"tuyagate/{plug}/result") == []
    async with Watcher(broker.port) as fresh:  # what a Home Assistant connecting now finds retained
        await fresh.wait(f"tuyagate/{kettle}/state")
        await fresh.wait(f"homeassistant/switch/rt/{kettle}_switch_1/config")
        assert not [t for t in fresh.latest if plug in t]


async def test_a_replaced_device_is_published_again_under_its_id(running: Running, broker: MosquittoBroker) -> None:
    plug = running.home.device(PLUG)
    switch = f"homeassistant/switch/rt/{plug.info.id}_switch_1/config"
    async with Watcher(broker.port) as mqtt:
        assert json.loads(await mqtt.wait(switch))["device"]["name"] == PLUG
        running.registry.upsert(replace(running.registry.get(plug.info.id), name="Desk plug (moved)"))
        assert (await running.home.reload()).replaced == (plug.info.id,)
        renamed = json.loads(await mqtt.wait(switch, lambda p: b"(moved)" in p))
        assert renamed["device"]["name"] == "Desk plug (moved)"
        await mqtt.wait_json(f"tuyagate/{plug.info.id}/state", lambda b: b.get("online") is True)
        assert await mqtt.wait(f"tuyagate/{plug.info.id}/availability", lambda p: p == b"online") == b"online"
    async with Watcher(broker.port) as fresh:  # the empty retained message of the removal did not win
        config = json.loads(await fresh.wait(switch))
        assert config["device"]["name"] == "Desk plug (moved)"
        assert json.loads(await fresh.wait(f"tuyagate/{plug.info.id}/state"))["online"] is True
