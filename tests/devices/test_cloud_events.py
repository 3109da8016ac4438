"""The message service feeding a home: cloud-only devices get live events, an echo never doubles an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.emulated_home import emulated_home, registry_with
from tests.lan.conftest import until
from tuyagate.bus import Subscription
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.cloud.pulsar import PulsarConsumer, pulsar_endpoint_for
from tuyagate.device_api import DeviceEvent
from tuyagate.devices.cloud_events import cloud_events
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.tuya_device import TuyaDevice
from tuyagate.errors import ConfigError
from tuyagate.sim.cloud_server import RunningCloud
from tuyagate.sim.fleet import SimFleet

CLIENT_ID, SECRET = "eventstest", "e" * 32
CELLAR = "Cellar plug (cloud only)"


@dataclass
class World:
    fleet: SimFleet
    cloud: RunningCloud
    hub: Home
    consumer: PulsarConsumer
    app: TuyaCloudClient  # another client of the cloud, like the Smart Life app


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with emulated_home("127.0.2.1", CLIENT_ID, SECRET) as home:
        registry, vault = registry_with(home.manifest, tmp_path)
        client = TuyaCloudClient(CLIENT_ID, SECRET, base_url=home.cloud.base_url, retries=0, timeout=3)
        app = TuyaCloudClient(CLIENT_ID, SECRET, base_url=home.cloud.base_url, retries=0, timeout=3)
        options = HubOptions(timeout=3.0, lan_timeout=1.0, retry_base=0.2, retry_cap=1.0)
        hub = build_hub(registry, vault, cloud=client, options=options)
        await hub.start()
        creds = CloudCredentials(CLIENT_ID, SECRET, base_url=home.cloud.base_url)
        consumer = cloud_events(hub, creds)
        try:
            async with consumer:
                await asyncio.wait_for(consumer.connected.wait(), 5)
                yield World(home.fleet, home.cloud, hub, consumer, app)
        finally:
            await app.aclose()
            await hub.close()
            registry.close()


async def next_state(events: Subscription[DeviceEvent], device_id: str) -> DeviceEvent:
    async with asyncio.timeout(5):
        async for event in events:
            if event.kind == "state" and event.device_id == device_id:
                return event
    raise AssertionError("event stream ended")


def states(events: Subscription[DeviceEvent], device_id: str) -> list[DeviceEvent]:
    """The state events of ``device_id`` already queued (without waiting)."""
    found = []
    while (event := events.get_nowait()) is not None:
        if event.kind == "state" and event.device_id == device_id:
            found.append(event)
    return found


def test_endpoint_of_a_login() -> None:
    assert pulsar_endpoint_for("eu") == "wss://mqe.tuyaeu.com:8285/"
    assert pulsar_endpoint_for(None, "https://openapi.tuyaus.com") == "wss://mqe.tuyaus.com:8285/"
    assert pulsar_endpoint_for(None, "http://127.0.0.1:9999") == "ws://127.0.0.1:9999/"
    assert pulsar_endpoint_for(None, "https://127.0.0.1:9999/") == "wss://127.0.0.1:9999/"
    with pytest.raises(ConfigError, match="message service"):
        pulsar_endpoint_for("sg")


async def test_cloud_only_device_shows_live_changes(world: World) -> None:
    cellar = world.hub.device(CELLAR)
    before = (await cellar.status()).values["switch_1"]
    events = world.hub.events()
    async with httpx.AsyncClient(base_url=world.cloud.base_url) as http:
        answer = await http.post(f"/_sim/devices/{cellar.info.id}", json={"dps": {"1": not before}})
        assert answer.status_code == 200
        event = await next_state(events, cellar.info.id)
        assert (event.dps, event.values, event.route) == ({"1": not before}, {"switch_1": not before}, "cloud")
        cached = cellar.cached_state()
        assert cached is not None
        assert cached.values["switch_1"] is (not before)
        assert cellar.online
        await http.post(f"/_sim/devices/{cellar.info.id}", json={"online": False})
        await until(lambda: not cellar.online, what="offline from the cloud")
    await events.aclose()


async def test_lan_push_and_its_cloud_echo_are_one_event(world: World) -> None:
    plug = world.hub.device("Desk plug")
    await plug.status()
    current = plug.cached_state()
    assert current is not None
    value = not current.values["switch_1"]
    events = world.hub.events()
    delivered = world.consumer.delivered
    # The app switches it through the cloud: the device pushes on the LAN, and the cloud reports it too.
    await world.app.send_commands(plug.info.id, [{"code": "switch_1", "value": value}])
    event = await next_state(events, plug.info.id)
    assert (event.values, event.route) == ({"switch_1": value}, "lan")  # the LAN is up: it is the source
    await until(lambda: world.consumer.delivered == delivered + 1, timeout=5, what="the cloud's echo was handed on")
    assert states(events, plug.info.id) == []  # the echo changed nothing, so no second event
    await events.aclose()


async def test_a_command_through_the_home_is_not_echoed(world: World) -> None:
    cellar = world.hub.device(CELLAR)
    value = not (await cellar.status()).values["switch_1"]
    events = world.hub.events()
    delivered = world.consumer.delivered
    result = await cellar.set(switch_1=value)
    assert result.route == "cloud"
    await until(lambda: world.consumer.delivered == delivered + 1, timeout=5, what="the cloud's report arrived")
    found = states(events, cellar.info.id)
    assert [e.values for e in found] == [{"switch_1": value}]  # the set's own event, not the echo as well
    await events.aclose()


async def test_events_for_unknown_devices_are_ignored(world: World) -> None:
    world.cloud.state.pulsar.publish(4, {"devId": "notinthishome", "status": [{"code": "switch_1", "value": True}]})
    await until(lambda: world.cloud.state.pulsar.pending == 0, timeout=5)
    assert world.consumer.delivered >= 1


async def test_an_echo_of_values_already_cached_emits_nothing(world: World) -> None:
    cellar = world.hub.device(CELLAR)
    assert isinstance(cellar, TuyaDevice)
    value = not (await cellar.status()).values["switch_1"]
    events = world.hub.events()
    report = [{"code": "switch_1", "value": value, "t": 1}, {"code": "no_such_code", "value": 1}]
    cellar.apply_cloud_report(report)
    cellar.apply_cloud_report(report)  # the same report again (another rule, or an echo)
    assert [(e.values, e.route) for e in states(events, cellar.info.id)] == [({"switch_1": value}, "cloud")]
    await events.aclose()


async def test_while_the_lan_works_cloud_reports_are_not_applied(world: World) -> None:
    plug = world.hub.device("Desk plug")
    assert isinstance(plug, TuyaDevice)
    before = (await plug.status()).values["switch_1"]  # over the LAN: the route is up
    events = world.hub.events()
    plug.apply_cloud_report([{"code": "switch_1", "value": not before}], online=False)
    assert states(events, plug.info.id) == []
    assert plug.online
    cached = plug.cached_state()
    assert cached is not None
    assert cached.values["switch_1"] is before
    await events.aclose()
