"""Sub-devices of a Zigbee gateway: many children, one socket, per-child events and online state."""

from __future__ import annotations

import asyncio

import pytest

from tuyagate.errors import DeviceError
from tuyagate.lan import EventKind
from tuyagate.sim.device import SimChild

from .conftest import ClientFactory, SimFactory


def _children(n: int = 2) -> dict[str, SimChild]:
    kids = {f"cid{i}": SimChild(dps={"1": False, "2": i}) for i in range(n)}
    kids["asleep"] = SimChild(dps={"1": True}, online=False)
    return kids


@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_child_status_set_and_events(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, children=_children())
    async with client(device) as gateway:
        first, second = gateway.child("cid0"), gateway.child("cid1")
        first_events, second_events = first.events(), second.events()
        assert await first.status() == {"1": False, "2": 0}
        assert await second.status() == {"1": False, "2": 1}
        await second.set_dps({"1": True})
        assert device.children["cid1"].dps["1"] is True
        assert device.children["cid0"].dps["1"] is False
        event = await second_events.get(timeout=1.0)
        assert (event.kind, event.cid, event.dps) == (EventKind.STATUS, "cid1", {"1": True})
        await device.set_child_dps("cid0", {"2": 42})
        event = await first_events.get(timeout=1.0)
        assert (event.cid, event.dps) == ("cid0", {"2": 42})
        with pytest.raises(TimeoutError):  # cid0's push never reaches cid1's stream
            await second_events.get(timeout=0.1)


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_child_online_state(sim: SimFactory, client: ClientFactory, version: str) -> None:
    device = await sim(version=version, children=_children())
    async with client(device) as gateway:
        assert await gateway.subdevices_online() == {"cid0": True, "cid1": True, "asleep": False}
        assert await gateway.child("cid1").online() is True
        assert await gateway.child("asleep").online() is False
        with pytest.raises(DeviceError):
            await gateway.child("asleep").status()


async def test_many_children_one_socket(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.4", children=_children(20), second_client="refuse")
    gateway = client(device, timeout=3.0)
    kids = [gateway.child(f"cid{i}") for i in range(20)]
    await asyncio.gather(*(kid.set_dps({"1": True}) for kid in kids))
    states = await asyncio.gather(*(kid.status() for kid in kids))
    assert states == [{"1": True, "2": i} for i in range(20)]
    assert device.stats.connections_accepted == 1
    assert device.stats.connections_refused == 0
