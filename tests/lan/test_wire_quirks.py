"""tuyagate's LAN client against the ways real devices differ on the wire, and its clean closes.

Each quirk is a mode of the emulator (tuyagate.sim.device_options); the emulator records how the
client ended each connection, so a close that would reset a fragile device fails these tests.
"""

from __future__ import annotations

import asyncio

import pytest

from tuyagate.lan import DeviceConnection, EventKind
from tuyagate.lan.closing import STATUS_WAIT
from tuyagate.lan.events import Event, Subscription
from tuyagate.sim.device import SimChild, SimDevice

from .conftest import VERSIONS, ClientFactory, SimFactory

DPS = {"1": True, "2": 10, "3": "white"}


async def _next_status(events: Subscription) -> Event:
    """The next STATUS event (skipping the CONNECTED one a fresh subscription sees first)."""
    while True:
        event = await events.get(timeout=1.0)
        if event.kind is EventKind.STATUS:
            return event


async def _closed_cleanly(device: SimDevice, count: int = 1) -> None:
    assert device.closes is not None
    records = await device.closes.wait(count)
    assert [r.how for r in records] == ["clean"] * count, records


@pytest.mark.parametrize("version", VERSIONS)
async def test_status_and_set_against_a_device_without_return_codes(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, dps=DPS, return_codes=False, record_closes=True)
    dev = client(device)
    assert await dev.status() == DPS
    await dev.set_dps({"1": False, "2": 50})
    assert device.dps == {"1": False, "2": 50, "3": "white"}
    await dev.close()
    await _closed_cleanly(device)


@pytest.mark.parametrize("version", VERSIONS)
async def test_set_waits_for_the_status_after_the_ack_then_closes_cleanly(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, dps=DPS, record_closes=True, status_delay=0.05)
    dev = client(device)
    await dev.set_dps({"2": 77})
    await dev.close()  # the STATUS comes 50 ms after the ACK: closing on the ACK would reset
    assert dev.last_status == {"2": 77}  # the STATUS was read before the close
    await _closed_cleanly(device)


async def test_ack_only_device_costs_a_close_at_most_the_status_wait(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", dps=DPS, control_reply="ack", record_closes=True)
    dev = client(device)
    await dev.set_dps({"1": False})
    loop = asyncio.get_running_loop()
    start = loop.time()
    await dev.close()
    assert loop.time() - start < STATUS_WAIT + 0.5
    assert device.dps["1"] is False
    await _closed_cleanly(device)


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_watching_then_closing_is_clean(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, dps=DPS, record_closes=True)
    dev = client(device)
    async with dev.events() as events:
        await dev.status()
        await device.set_dps({"3": "colour"})
        assert (await _next_status(events)).dps == {"3": "colour"}
    await dev.close()
    await _closed_cleanly(device)


@pytest.mark.parametrize("version", ["3.3", "3.4"])
async def test_device_counter_mode_on_a_55aa_version(sim: SimFactory, client: ClientFactory, version: str) -> None:
    """Captured 3.4 devices number their own frames too: replies never echo ours, and that is fine."""
    device = await sim(version=version, dps=DPS, seq_mode="device", seq_start=0xFD39)
    dev = client(device)
    assert await dev.status() == DPS
    await dev.set_dps({"1": False})
    await dev.heartbeat()
    assert await dev.status() == {**DPS, "1": False}


async def test_several_clients_at_once(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.5", dps=DPS, second_client="allow", record_closes=True)
    first, second = client(device), client(device)
    async with first.events() as seen_first, second.events() as seen_second:
        assert await first.status() == DPS
        assert await second.status() == DPS
        await first.set_dps({"2": 99})
        assert (await _next_status(seen_first)).dps == {"2": 99}
        assert (await _next_status(seen_second)).dps == {"2": 99}
        assert device.clients == 2
    await first.close()
    await second.close()
    await _closed_cleanly(device, 2)


async def test_a_device_that_rejects_dp_query_is_read_whole(sim: SimFactory, client: ClientFactory) -> None:
    """A 3.3 device answering DP_QUERY with "json obj data unvalid" (device22, type-0d) is asked
    with CONTROL_NEW instead, for the usual DP range, and answers with every DP it has."""
    device = await sim(version="device22", dps={"1": True, "2": 10, "20": 230, "101": "x"})
    dev = client(device, version="3.3")
    assert await dev.status() == {"1": True, "2": 10, "20": 230}  # DP 101 is outside the range asked for
    assert dev.version == "device22"  # the one spelling, as get_spec and the registry read it
    await dev.set_dps({"2": 11})
    assert await dev.status() == {"1": True, "2": 11, "20": 230}
    configured = client(device, version="3.3", device22_dps=["1", "101"])
    assert await configured.status() == {"1": True, "101": "x"}


async def test_idle_device_closes_and_the_client_reopens(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.4", dps=DPS, idle_timeout=0.2)
    dev: DeviceConnection = client(device, heartbeat_interval=None)
    assert await dev.status() == DPS
    async with dev.events() as events:
        event = await events.get(timeout=2.0)  # the device's idle timeout drops us
        assert event.kind is EventKind.DISCONNECTED, event
    assert await dev.status() == DPS  # and the next request opens a new connection
    assert device.stats.connections_accepted == 2


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_gateway_sub_device_replies_carry_cid(sim: SimFactory, client: ClientFactory, version: str) -> None:
    children = {"a4c1382a6c5e4e5a": SimChild(dps={"1": False, "2": 21})}
    device = await sim(version=version, dps={"1": True}, children=children, record_closes=True)
    dev = client(device)
    child = dev.child("a4c1382a6c5e4e5a")
    async with dev.events(cid="a4c1382a6c5e4e5a") as events:
        assert await child.status() == {"1": False, "2": 21}
        await child.set_dps({"1": True})
        event = await _next_status(events)
        assert (event.cid, event.dps) == ("a4c1382a6c5e4e5a", {"1": True})
    await dev.close()
    await _closed_cleanly(device)
