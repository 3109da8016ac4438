"""The router end to end: registry + emulated fleet + emulated cloud, LAN first, cloud fallback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.emulated_home import emulated_home, registry_with
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.device_api import DeviceEvent
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.registry import Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.errors import TuyaTimeoutError, UnknownDpError, ValidationError
from tuyagate.sim.cloud_server import RunningCloud
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest

CLIENT_ID, SECRET = "routertest", "r" * 32


@dataclass
class World:
    fleet: SimFleet
    manifest: FleetManifest
    hub: Home
    registry: Registry
    cloud: RunningCloud


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with emulated_home("127.0.2.1", CLIENT_ID, SECRET) as home:
        registry, vault = registry_with(home.manifest, tmp_path)
        client = TuyaCloudClient(CLIENT_ID, SECRET, base_url=home.cloud.base_url, retries=0, timeout=3)
        options = HubOptions(timeout=3.0, lan_timeout=1.0, retry_base=0.2, retry_cap=1.0, heartbeat_interval=5.0)
        hub = build_hub(registry, vault, cloud=client, options=options)
        await hub.start()
        try:
            yield World(home.fleet, home.manifest, hub, registry, home.cloud)
        finally:
            await hub.close()
            registry.close()


async def test_every_device_answers_by_name_with_converted_values(world: World) -> None:
    plug = await world.hub.device("Desk plug").status()
    assert plug.route == "lan"
    assert plug.values["cur_voltage"] == 230.1  # raw 2301 with scale 1
    assert plug.dps["20"] == 2301
    light = await world.hub.device("living room light").status()  # names are case-insensitive
    assert (light.route, light.values["bright_value_v2"]) == ("lan", 500)
    cellar = await world.hub.device("Cellar plug (cloud only)").status()
    assert cellar.route == "cloud"
    assert cellar.values["switch_1"] is False
    sensor = await world.hub.device("Garden sensor").status()  # a Zigbee sub-device, through its gateway
    assert (sensor.route, sensor.values["va_temperature"]) == ("lan", 21.5)


async def test_set_by_code_and_by_dp_id_goes_over_the_lan(world: World) -> None:
    device = world.hub.device("Kettle plug")
    sim = world.fleet.sim_for(device.info.id)
    result = await device.set({"switch_1": True})
    assert (result.route, result.fallback, result.dps) == ("lan", False, {"1": True})
    assert sim.dps["1"] is True
    result = await device.set({"1": False, "countdown_1": 60})
    assert result.dps == {"1": False, "9": 60}
    assert (sim.dps["1"], sim.dps["9"]) == (False, 60)


async def test_sub_device_set_through_gateway_connection(world: World) -> None:
    child = world.hub.device("Garage plug (Zigbee)")
    gateway_sim = world.fleet.sim_for(child.info.id)
    await child.set({"switch_1": True})
    assert gateway_sim.children[child.info.cid or ""].dps["1"] is True
    assert gateway_sim.stats.connections_accepted == 1


async def test_bad_values_are_refused_before_anything_is_sent(world: World) -> None:
    light = world.hub.device("Hall light")
    sim = world.fleet.sim_for(light.info.id)
    before = sim.stats.commands
    with pytest.raises(ValidationError, match="between 10 and 1000"):
        await light.set({"bright_value_v2": 5000})
    with pytest.raises(ValidationError, match="white"):
        await light.set({"work_mode": "disco"})
    with pytest.raises(UnknownDpError, match='no data point "no_such_code"'):
        await light.set({"no_such_code": 1})
    with pytest.raises(ValidationError, match="read-only"):
        await world.hub.device("Desk plug").set({"cur_power": 5})
    assert sim.stats.commands == before


async def test_unknown_dp_ids_are_refused_naming_the_known_codes(world: World) -> None:
    plug = world.hub.device("Desk plug")
    sim = world.fleet.sim_for(plug.info.id)
    before = sim.stats.commands
    with pytest.raises(UnknownDpError, match=r"no DP id 77 in this device's schema \(known: switch_1 \(1\)") as info:
        await plug.set({"77": 5})
    assert (info.value.key, info.value.known[0]) == ("77", "switch_1")
    with pytest.raises(UnknownDpError):
        await plug.set({"switch_1": True, "77": 5})  # one unknown DP refuses the whole command
    assert sim.stats.commands == before
    assert "77" not in sim.dps
    assert "77" not in (await plug.status()).dps
    result = await plug.set({"1": True})
    assert (result.dps, result.validated) == ({"1": True}, True)


async def test_a_device_without_schema_takes_dp_ids_unchecked_and_says_so(world: World) -> None:
    hub_device = world.hub.device("Zigbee gateway")  # no cloud specification and no built-in schema
    assert hub_device.schema_dict() == []
    sim = world.fleet.sim_for(hub_device.info.id)
    result = await hub_device.set({"101": 7})
    assert (result.dps, result.route, result.validated) == ({"101": 7}, "lan", False)
    assert sim.dps["101"] == 7
    with pytest.raises(UnknownDpError, match="has no DP schema, so only DP ids can be given"):
        await hub_device.set({"switch_1": True})


async def test_lan_down_falls_back_to_cloud_then_comes_back(world: World) -> None:
    device = world.hub.device("Heater plug")  # a 3.5 device
    sim = world.fleet.sim_for(device.info.id)
    assert (await device.status()).route == "lan"

    await sim.stop()
    started = time.monotonic()
    result = await device.set({"switch_1": True})
    assert (result.route, result.fallback) == ("cloud", True)
    assert time.monotonic() - started < 3.0
    assert sim.dps["1"] is True  # the emulated cloud changed the device's own state
    lan_health = next(r for r in device.routes() if r.name == "lan")
    assert not lan_health.healthy
    assert lan_health.last_error
    state = await device.status()
    assert state.route == "cloud"
    assert state.values["switch_1"] is True

    await sim.start()  # same port, like a device coming back
    deadline = time.monotonic() + 6.0
    while time.monotonic() < deadline:
        if next(r for r in device.routes() if r.name == "lan").healthy:
            break
        await asyncio.sleep(0.1)
    result = await device.set({"switch_1": False})
    assert (result.route, result.fallback) == ("lan", False)
    assert sim.dps["1"] is False


async def test_pushes_become_events_and_fresh_cache(world: World) -> None:
    device = world.hub.device("Bedroom curtain")
    sim = world.fleet.sim_for(device.info.id)
    await device.status()
    events = world.hub.events()

    async def next_state() -> DeviceEvent:
        async for event in events:
            if event.kind == "state" and event.device_id == device.info.id:
                return event
        raise AssertionError("event stream ended")

    waiter = asyncio.create_task(next_state())  # the subscription exists already: nothing to wait for
    await sim.set_dps({"3": 40})  # the motor reports a new position by itself
    event = await asyncio.wait_for(waiter, 3.0)
    assert (event.dps, event.values, event.route) == ({"3": 40}, {"percent_state": 40}, "lan")
    cached = await device.status(refresh=False)
    assert (cached.route, cached.values["percent_state"]) == ("cache", 40)
    assert device.fresh_state() == cached  # what a cached read answers, with no I/O
    await events.aclose()
    device.cache_ttl = 0.0  # type: ignore[attr-defined]
    assert device.fresh_state() is None  # past its time to live: a read must ask the device


async def test_a_change_pushed_right_behind_a_read_answer_stays_in_the_cache(world: World) -> None:
    """The answer is older than the push read with it: the cache must keep the pushed value."""
    device = world.hub.device("Bedroom curtain")
    sim = world.fleet.sim_for(device.info.id)
    before = sim.dps["3"]
    sim.faults.change_after_answer = {"3": before + 7}
    state = await device.status()
    assert state.dps["3"] == before + 7
    cached = await device.status(refresh=False)
    assert (cached.route, cached.dps["3"]) == ("cache", before + 7)


async def test_a_change_pushed_right_behind_a_command_ack_stays_in_the_cache(world: World) -> None:
    """The command's own values are older than a push read with its ACK: the cache keeps the push."""
    device = world.hub.device("Kettle plug")
    sim = world.fleet.sim_for(device.info.id)
    sim.faults.change_after_answer = {"1": False}  # switched on, and off again at once by hand
    result = await device.set({"switch_1": True})
    assert result.dps == {"1": True}  # what was sent
    cached = device.cached_state()
    assert cached is not None
    assert cached.dps["1"] is False
    assert sim.dps["1"] is False


async def test_last_state_is_saved_to_the_registry(world: World) -> None:
    device = world.hub.device("Kitchen switch")
    await device.set({"switch_2": True})
    await world.hub.close()
    assert world.registry.get("Kitchen switch").last_state == {"1": False, "2": True, "7": 0}


async def test_the_registry_state_is_not_served_as_fresh_after_a_restart(world: World) -> None:
    """A gateway killed within cache_ttl of its last state flush comes back with an older state in the
    registry than the device holds: the first cached read must ask the device, not answer the old one."""
    device = world.hub.device("Kitchen switch")
    await device.set({"switch_2": True})
    await world.hub.close()  # flushes {"2": True} to the registry, with a last_seen of just now
    sim = world.fleet.sim_for(device.info.id)
    sim.apply_dps({"2": False, "7": 120})  # commands the flush never saw (the gateway was killed first)
    vault = Vault.open(world.registry.db, Path(world.registry.db.path).parent, env={})
    restarted = build_hub(world.registry, vault, options=HubOptions(timeout=3.0))
    await restarted.start()
    try:
        again = restarted.device("Kitchen switch")
        assert again.cached_state() is not None  # the last known state is still shown...
        assert again.fresh_state() is None
        state = await again.status(refresh=False)  # ...but not served as fresh
        assert (state.route, state.dps["2"], state.dps["7"]) == ("lan", False, 120)
        assert (await again.status(refresh=False)).route == "cache"  # fresh from now on
        assert again.fresh_state() is not None
    finally:
        await restarted.close()
    assert again.fresh_state() is None  # a closed device has nothing to answer


async def test_a_busy_device_is_not_taken_for_a_broken_one(world: World) -> None:
    device = world.hub.device("Office thermostat")
    sim = world.fleet.sim_for(device.info.id)
    assert (await device.status()).route == "lan"
    sim.faults.reply_delay = 0.3  # one request at a time, 0.3 s each; the LAN share of a deadline is 1 s
    answers = await asyncio.gather(*(device.set({"child_lock": i % 2 == 0}) for i in range(8)), return_exceptions=True)
    # The one command in flight when the LAN share ran out may have been applied: it is not sent
    # again through the cloud, and says so; the ones still queued (never sent) are.
    cut_off = [a for a in answers if isinstance(a, BaseException)]
    assert len(cut_off) <= 1
    assert all(isinstance(a, TuyaTimeoutError) and a.may_be_applied for a in cut_off)
    routes = [a.route for a in answers if not isinstance(a, BaseException)]
    assert routes.count("lan") >= 2
    assert "cloud" in routes  # queued past the LAN share, served by the cloud within the deadline
    lan = next(r for r in device.routes() if r.name == "lan")
    assert lan.failures <= 1  # waiting in the queue is not a failure; at most the one cut off mid-answer


async def test_a_command_that_reached_the_device_is_not_sent_again_through_the_cloud(world: World) -> None:
    """The LAN answer comes too late: the device may have applied the command, so the cloud must not
    apply it a second time (a 2xx promises exactly once); the error says it may be applied."""
    device = world.hub.device("Kettle plug")
    sim = world.fleet.sim_for(device.info.id)
    assert (await device.status()).route == "lan"
    sim.faults.reply_delay = 2.0  # past lan_timeout (1 s), within the whole deadline (3 s)
    cloud_commands = world.cloud.state.stats["commands"]
    started = time.monotonic()
    with pytest.raises(TuyaTimeoutError) as info:
        await device.set({"switch_1": True})
    assert info.value.may_be_applied
    assert time.monotonic() - started < 2.0  # the LAN's share of the deadline, not the cloud's
    assert world.cloud.state.stats["commands"] == cloud_commands
    sim.faults.reply_delay = 0.0
    state = await device.status()  # what the device really did is there to read
    assert state.values["switch_1"] is sim.dps["1"]


async def test_a_wrong_local_key_falls_back_to_the_cloud_at_once(tmp_path: Path) -> None:
    """A 3.3 plug re-paired since its key was stored: the LAN says so quickly, the cloud answers."""
    async with emulated_home("127.0.2.1", CLIENT_ID, SECRET) as home:
        registry, vault = registry_with(home.manifest, tmp_path)
        plug = registry.get("Desk plug")  # a 3.3 device
        vault.put(secret_name(plug.id), "fedcba9876543210")
        client = TuyaCloudClient(CLIENT_ID, SECRET, base_url=home.cloud.base_url, retries=0, timeout=3)
        options = HubOptions(timeout=3.0, lan_timeout=2.5, retry_base=0.2, retry_cap=1.0, heartbeat_interval=5.0)
        hub = build_hub(registry, vault, cloud=client, options=options)
        await hub.start()
        try:
            device = hub.device("Desk plug")
            started = time.monotonic()
            result = await device.set({"switch_1": True})
            assert (result.route, result.fallback) == ("cloud", True)
            assert time.monotonic() - started < 1.5  # not the LAN's 2.5 s share of the deadline
            lan = next(r for r in device.routes() if r.name == "lan")
            assert lan.last_error is not None
            assert "local key is wrong" in lan.last_error
            assert home.fleet.sim_for(plug.id).dps["1"] is True  # set through the cloud
        finally:
            await hub.close()
            registry.close()
