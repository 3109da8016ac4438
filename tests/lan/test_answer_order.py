"""A push read after a query's answer is newer than the answer, and must stay the value known.

The device answers a status query and, in the same write, pushes a change (a button pressed as the
answer leaves). The client reads both frames before the caller of ``status()`` runs again; were the
answer folded in only then, the older answered value would overwrite the newer pushed one, and
nothing would correct it until the next push. Found by the fault matrix's flood row, where the
gateway's cache kept a value the device no longer had.
"""

from __future__ import annotations

import pytest

from tuyagate.lan import DeviceConnection, EventKind
from tuyagate.sim.device import SimChild, SimDevice

from .conftest import VERSIONS, ClientFactory, SimFactory

Plug = tuple[SimDevice, DeviceConnection]


@pytest.fixture(params=VERSIONS)
async def plug(request: pytest.FixtureRequest, sim: SimFactory, client: ClientFactory) -> Plug:
    """An emulated plug of each version, and a client of it."""
    device = await sim(version=request.param, dps={"1": True, "2": 10})
    return device, client(device)


async def test_a_push_right_after_the_answer_wins_over_the_answer(plug: Plug) -> None:
    device, dev = plug
    await dev.connect()
    device.faults.change_after_answer = {"2": 11}
    assert await dev.status() == {"1": True, "2": 11}
    assert dev.last_status == {"1": True, "2": 11}
    assert device.stats.frames_sent >= 2  # the push did go out (after the answer)
    assert await dev.status() == {"1": True, "2": 11}  # and a later plain read agrees
    await dev.close()


async def test_followers_of_the_pushes_see_the_same_last_value(plug: Plug) -> None:
    device, dev = plug
    events = dev.events()
    device.faults.change_after_answer = {"1": False}
    assert await dev.status() == {"1": False, "2": 10}
    pushed = None
    while pushed is None:
        event = await events.get(timeout=1.0)
        pushed = event.dps if event.kind is EventKind.STATUS else None
    assert pushed == {"1": False}
    assert dev.last_status == {"1": False, "2": 10}
    await dev.close()


@pytest.mark.parametrize("version", ["3.3", "3.4", "3.5"])
async def test_a_sub_device_push_right_after_its_answer_wins_and_stays_its_own(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version, children={"a": SimChild(dps={"1": False}), "b": SimChild(dps={"1": False})})
    async with client(device) as gateway:
        first, second = gateway.child("a"), gateway.child("b")
        device.faults.change_after_answer = {"1": True}
        assert await first.status() == {"1": True}
        assert device.children["a"].dps["1"] is True
        assert await second.status() == {"1": False}  # a's push is not b's value


async def test_a_command_returns_what_the_device_pushed_right_behind_its_ack(plug: Plug) -> None:
    device, dev = plug
    device.faults.change_after_answer = {"1": True}  # switched off by the command, on again at once
    assert await dev.set_dps({"1": False, "2": 20}) == {"1": True, "2": 20}
    assert device.dps == {"1": True, "2": 20}
    assert await dev.set_dps({"2": 30}) == {"2": 30}  # nothing pushed behind: what was sent
    await dev.close()
