"""Status, set and pushes on every protocol version, over real loopback sockets."""

from __future__ import annotations

import asyncio

import pytest

from tuyagate.lan import EventKind

from .conftest import VERSIONS, ClientFactory, SimFactory, until


@pytest.mark.parametrize("version", VERSIONS)
async def test_status_set_push(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, dps={"1": True, "2": 10, "3": "white"})
    async with client(device) as dev:
        events = dev.events()
        # device22 (and 3.2) answer only the DPs asked for; the client asks for the usual range.
        assert await dev.status() == {"1": True, "2": 10, "3": "white"}
        await dev.set_dps({"1": False, "2": 50})
        assert device.dps["1"] is False
        assert device.dps["2"] == 50
        event = await events.get(timeout=1.0)
        assert (event.kind, event.dps, event.cid) == (EventKind.STATUS, {"1": False, "2": 50}, None)
        await device.set_dps({"3": "colour"})  # a button press on the device
        event = await events.get(timeout=1.0)
        assert event.dps == {"3": "colour"}
        assert dev.last_status is not None
        assert dev.last_status["3"] == "colour"
        assert device.stats.connections_accepted == 1


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_string_values_keep_their_spaces(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, dps={"1": True, "5": "x"})
    async with client(device) as dev:
        await dev.set_dps({"5": "hello world"})
        assert device.dps["5"] == "hello world"
        assert (await dev.status())["5"] == "hello world"


@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_update_dps_pushes_fresh_readings(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, dps={"1": True, "18": 120, "19": 230})
    async with client(device) as dev:
        events = dev.events()
        device.dps["19"] = 231  # the device measured something new, without pushing it
        await dev.update_dps([18, 19])
        event = await events.get(timeout=1.0)
        assert event.dps == {"18": 120, "19": 231}


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_heartbeats_keep_an_idle_connection_open(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, idle_timeout=0.4)
    handshake_frames = 2 if device.spec.session_key else 0
    async with client(device, heartbeat_interval=0.15) as dev:
        # Six heartbeats take > 2 device idle timeouts without any request.
        took = await until(lambda: device.stats.frames_received >= handshake_frames + 6, what="six heartbeats")
        assert took > 2 * 0.4
        assert dev.connected
        assert await dev.status() == {"1": True, "2": 0}
        assert device.stats.connections_accepted == 1


async def test_without_heartbeats_the_device_drops_us_and_we_reopen(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.4", idle_timeout=0.2)
    async with client(device) as dev:
        await until(lambda: not dev.connected, what="the device's idle close")
        assert await dev.status() == {"1": True, "2": 0}
        assert device.stats.connections_accepted == 2
        assert device.stats.handshakes == 2  # the handshake is redone on the new connection


@pytest.mark.parametrize(
    ("version", "label"),
    [
        ("3.1", "3.1"),
        ("3.3", "3.3"),
        ("3.4", "3.4"),
        ("3.5", "3.5"),
        ("device22", "device22"),  # the label is the spelling get_spec and the registry read
    ],
)
async def test_version_is_detected(sim: SimFactory, client: ClientFactory, version: str, label: str) -> None:
    device = await sim(version=version, dps={"1": True})
    dev = client(device, version=None, timeout=3.0)
    before = dev.version
    assert await dev.status() == {"1": True}
    assert (before, dev.version) == (None, label)
    await dev.set_dps({"1": False})
    assert device.dps["1"] is False


async def test_concurrent_callers_share_one_connection(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.5", second_client="refuse", dps={"1": True, "2": 0})
    dev = client(device, timeout=3.0)

    async def caller(i: int) -> object:
        if i % 4 == 0:
            await dev.set_dps({"2": i})
            return None
        return await dev.status()

    results = await asyncio.gather(*(caller(i) for i in range(100)))
    assert sum(r is None for r in results) == 25
    assert all(isinstance(r, dict) and set(r) == {"1", "2"} for r in results if r is not None)
    assert device.stats.connections_accepted == 1
    assert device.stats.connections_refused == 0
    assert device.stats.commands == 25
    assert dev.stats.connects == 1
