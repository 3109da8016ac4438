"""Fixtures of the MQTT tests: a real Mosquitto broker per test, and the demo home bridged to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mqtt.broker import MOSQUITTO, MosquittoBroker
from tuyagate.cli.demo import DemoWorld
from tuyagate.devices.hub import HubOptions
from tuyagate.mqtt.bridge import MqttBridge
from tuyagate.mqtt.config import MqttConfig, parse_mqtt_url

SKIP_REASON = "mosquitto is not installed (Debian: apt-get install mosquitto; ./run installs it when it can)"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    if MOSQUITTO is None:
        pytest.skip(SKIP_REASON)
    with MosquittoBroker(tmp_path / "broker") as running:
        yield running


def fast_config(url: str, **options: object) -> MqttConfig:
    """A bridge config that reconnects quickly (tests restart brokers)."""
    return parse_mqtt_url(url).with_options(reconnect_min=0.05, reconnect_max=0.3, **options)


@dataclass
class Site:
    world: DemoWorld
    bridge: MqttBridge
    broker: MosquittoBroker

    def device_id(self, name: str) -> str:
        assert self.world.hub is not None
        return self.world.hub.device(name).info.id


@pytest.fixture
async def demo_world(request: pytest.FixtureRequest) -> AsyncIterator[DemoWorld]:
    """The whole demo (emulated fleet, cloud, Tasmota, ESPHome) on its own loopback addresses."""
    first_ip = getattr(request, "param", "127.0.20.1")
    world = DemoWorld(port=0, fleet_ip=first_ip, fleet_port=0, options=HubOptions(timeout=3.0, lan_timeout=1.0))
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


@pytest.fixture
async def site(demo_world: DemoWorld, broker: MosquittoBroker) -> AsyncIterator[Site]:
    """The demo home bridged to the broker (node id ``test``), connected and fully published."""
    assert demo_world.hub is not None
    bridge = MqttBridge(demo_world.hub, fast_config(broker.url, node_id="test"))
    await bridge.start()
    try:
        await bridge.wait_connected(15)
        yield Site(demo_world, bridge, broker)
    finally:
        await bridge.close()
