"""What a bridge does when things go wrong: a gateway dies, the broker restarts, several sites share a broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import tuyagate
from tests.emulated_home import EmulatedHome, emulated_home, registry_with
from tests.mqtt.broker import MosquittoBroker
from tests.mqtt.conftest import Site, fast_config
from tests.mqtt.watch import Watcher
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.cloud_login import save_cloud_login
from tuyagate.mqtt.bridge import MqttBridge
from tuyagate.sim.fleet import SimFleet

CLIENT_ID, SECRET = "mqtttestcloud", "m" * 32


async def _ready_line(process: asyncio.subprocess.Process) -> dict[str, object]:
    assert process.stdout is not None
    async with asyncio.timeout(60):
        line = await process.stdout.readline()
    if not line:
        raise AssertionError(f"the demo exited with {await process.wait()}")
    info: dict[str, object] = json.loads(line)
    return info


@pytest.mark.parametrize("how", ["killed", "stopped"])
async def test_a_gateway_that_dies_shows_all_its_devices_unavailable(
    broker: MosquittoBroker, how: str, tmp_path: Path
) -> None:
    command = ["-m", "tuyagate.cli", "demo", "--port", "0", "--fleet-ip", "127.0.21.1", "--fleet-port", "0"]
    command += ["--data-dir", str(tmp_path / "demo")]  # a killed demo leaves its directory behind
    command += ["--mqtt", broker.url + "?node_id=dying&keepalive=5"]
    async with Watcher(broker.port, ("tuyagate/bridge/#", "homeassistant/+/dying/+/config")) as mqtt:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        try:
            info = await _ready_line(process)
            assert info["mqtt"] == {"broker": f"mqtt://127.0.0.1:{broker.port}", "node_id": "dying"}
            assert await mqtt.wait("tuyagate/bridge/dying/availability", lambda p: p == b"online", timeout=20)
            # every entity of this gateway depends on its availability topic
            desk_plug = SimFleet.demo().devices[0].id  # ids are stable: derived from the demo layout
            topic = f"homeassistant/switch/dying/{desk_plug}_switch_1/config"
            config = json.loads(await mqtt.wait(topic, timeout=20))
            assert {"topic": "tuyagate/bridge/dying/availability"} in config["availability"]
            assert config["availability_mode"] == "all"
            process.send_signal(signal.SIGKILL if how == "killed" else signal.SIGTERM)
            # killed: the broker publishes the last will; stopped: the bridge says goodbye itself, first thing
            assert await mqtt.wait("tuyagate/bridge/dying/availability", lambda p: p == b"offline", timeout=15)
            async with asyncio.timeout(60):
                assert await process.wait() in (0, -signal.SIGKILL)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_a_broker_restart_loses_nothing_and_shows_nothing_stale(site: Site) -> None:
    plug = site.device_id("Lamp plug")
    assert site.world.fleet is not None
    sim = site.world.fleet.sim_for(plug)
    connections = site.bridge.stats.connections
    site.broker.stop()  # persistence off: every retained message is gone with it
    await sim.set_dps({"1": True, "19": 777})  # changes while the broker is down
    site.broker.start()
    async with Watcher(site.broker.port) as mqtt:
        state = await mqtt.wait_json(f"tuyagate/{plug}/state", lambda s: s["cur_power"] == 77.7, timeout=20)
        assert state["switch_1"] is True
        assert await mqtt.wait("tuyagate/bridge/test/availability", lambda p: p == b"online") == b"online"
        assert await mqtt.wait(f"tuyagate/{plug}/availability") == b"online"
        assert await mqtt.wait(f"homeassistant/switch/test/{plug}_switch_1/config")
        # every device's retained state is back, each with current values
        hub = site.world.hub
        assert hub is not None
        for device in hub.devices():
            await mqtt.wait_json(f"tuyagate/{device.info.id}/state")
        assert site.bridge.stats.connections == connections + 1
        # and commands work on the new connection
        mark = len(mqtt.history)
        await mqtt.publish(f"tuyagate/{plug}/set", {"switch_1": False})
        assert json.loads((await mqtt.next_on(f"tuyagate/{plug}/result", after=mark)).payload)["ok"] is True
    assert sim.dps["1"] is False


@pytest.fixture
async def emulated(tmp_path: Path) -> AsyncIterator[tuple[EmulatedHome, Path]]:
    async with emulated_home("127.0.22.1", CLIENT_ID, SECRET) as world:
        registry, vault = registry_with(world.manifest, tmp_path)
        save_cloud_login(registry, vault, CloudCredentials(CLIENT_ID, SECRET, base_url=world.cloud.base_url))
        registry.close()
        yield world, tmp_path


async def test_two_gateways_with_their_own_node_ids_share_one_broker(
    broker: MosquittoBroker, emulated: tuple[EmulatedHome, Path]
) -> None:
    world, data = emulated
    site_a = ["Desk plug", "Kettle plug"]
    site_b = ["Hall light", "Bedroom curtain"]
    async with (
        tuyagate.open_home(data, devices=site_a) as home_a,
        tuyagate.open_home(data, devices=site_b, cloud=False) as home_b,
        MqttBridge(home_a, fast_config(broker.url, node_id="site-a")) as bridge_a,
        MqttBridge(home_b, fast_config(broker.url, node_id="site-b")) as bridge_b,
        Watcher(broker.port) as mqtt,
    ):
        await bridge_a.wait_connected(15)
        await bridge_b.wait_connected(15)
        light = home_b.device("Hall light").info.id
        plug = home_a.device("Desk plug").info.id
        for node in ("site-a", "site-b"):
            assert await mqtt.wait(f"tuyagate/bridge/{node}/availability") == b"online"
        assert await mqtt.wait(f"homeassistant/light/site-b/{light}_light/config")
        assert await mqtt.wait(f"homeassistant/switch/site-a/{plug}_switch_1/config")
        discovered = [t for t in mqtt.latest if t.startswith("homeassistant/")]
        assert not [t for t in discovered if f"/{light}_" in t and "/site-a/" in t]  # each site describes its own
        # A command for a device of site B is carried out once, by site B.
        mark = len(mqtt.history)
        await mqtt.publish(f"tuyagate/{light}/set", {"switch_led": True})
        assert json.loads((await mqtt.next_on(f"tuyagate/{light}/result", after=mark)).payload)["ok"] is True
        await mqtt.wait_json(f"tuyagate/{light}/state", lambda s: s["switch_led"] is True)
        assert len([s for s in mqtt.history[mark:] if s.topic == f"tuyagate/{light}/result"]) == 1
        assert world.fleet.sim_for(light).dps["20"] is True
        assert bridge_a.stats.commands == 0
        # Site A goes away: its availability goes offline, site B's stays online.
        await bridge_a.close()
        assert await mqtt.wait("tuyagate/bridge/site-a/availability", lambda p: p == b"offline") == b"offline"
        assert mqtt.latest["tuyagate/bridge/site-b/availability"] == b"online"


async def test_discovery_of_devices_no_longer_in_the_registry_is_removed(
    broker: MosquittoBroker, emulated: tuple[EmulatedHome, Path]
) -> None:
    _, data = emulated
    async with Watcher(broker.port, ("homeassistant/#",)) as mqtt:
        async with (
            tuyagate.open_home(data, devices=["Desk plug", "Hall light"], cloud=False) as home,
            MqttBridge(home, fast_config(broker.url, node_id="site")) as bridge,
        ):
            await bridge.wait_connected(15)
            light = home.device("Hall light").info.id
            light_topics = [
                f"homeassistant/light/site/{light}_light/config",
                f"homeassistant/sensor/site/{light}_route/config",
            ]
            for topic in light_topics:
                assert await mqtt.wait(topic)
        # The light leaves the registry; the next start of the same node deletes its retained entries.
        async with (
            tuyagate.open_home(data, devices=["Desk plug"], cloud=False) as home,
            MqttBridge(home, fast_config(broker.url, node_id="site")) as bridge,
        ):
            await bridge.wait_connected(15)
            for topic in light_topics:
                assert await mqtt.wait(topic, lambda p: p == b"") == b""
            plug = home.device("Desk plug").info.id
            assert mqtt.latest[f"homeassistant/switch/site/{plug}_switch_1/config"] != b""
            # and removing a device while running deletes its entries and retained topics at once
            await bridge.remove_device(plug)
            assert await mqtt.wait(f"homeassistant/switch/site/{plug}_switch_1/config", lambda p: p == b"") == b""
    async with Watcher(broker.port, ("tuyagate/#",)) as fresh:
        await fresh.wait("tuyagate/bridge/site/availability")
        assert f"tuyagate/{plug}/state" not in fresh.latest  # no retained state left behind


async def test_a_site_behind_a_bridged_broker_shows_unavailable_centrally_when_its_link_drops(
    tmp_path: Path, emulated: tuple[EmulatedHome, Path]
) -> None:
    """A gateway on its site's broker, which Mosquitto bridges to a central broker where Home Assistant is."""
    _, data = emulated
    link = "tuyagate/bridge/attic/link"
    with MosquittoBroker(tmp_path / "central") as central:
        uplink = [
            "connection attic-uplink",
            f"address 127.0.0.1:{central.port}",
            "topic tuyagate/# both 1",
            "topic homeassistant/# both 1",
            "notifications true",
            f"notification_topic {link}",
            "cleansession true",
        ]
        site_broker = MosquittoBroker(tmp_path / "site", extra=uplink)
        site_broker.start()
        try:
            async with (
                Watcher(central.port) as ha,
                tuyagate.open_home(data, devices=["Desk plug"], cloud=False) as home,
                MqttBridge(home, fast_config(site_broker.url, node_id="attic", link_topic=link)) as bridge,
            ):
                await bridge.wait_connected(15)
                plug = home.device("Desk plug").info.id
                config = json.loads(await ha.wait(f"homeassistant/switch/attic/{plug}_switch_1/config", timeout=20))
                assert config["availability"][-1] == {
                    "topic": link,
                    "payload_available": "1",
                    "payload_not_available": "0",
                }
                assert await ha.wait(link, lambda p: p == b"1") == b"1"
                assert await ha.wait("tuyagate/bridge/attic/availability") == b"online"
                await ha.wait_json(f"tuyagate/{plug}/state", lambda s: "switch_1" in s)
                site_broker.stop()  # the site's link (here: its whole broker) goes away
                # the central broker announces the dropped link (the uplink's own last will), so every entity
                # of the site, whose availability includes that topic, is unavailable in Home Assistant
                assert await ha.wait(link, lambda p: p == b"0", timeout=20) == b"0"
        finally:
            site_broker.stop()
