"""The one-shot command (construct, connect, set, close) and what its close costs and owes the device.

A close must stay gentle (our FIN, the device's FIN, no reset, see :mod:`tuyagate.lan.closing`) while
doing no more than that: it ends on the device's EOF itself, a STATUS that cannot come any more ends
its wait at once, and a STATUS push that nobody follows still updates the last known state.
"""

from __future__ import annotations

import asyncio

from tuyagate.lan import DeviceConnection
from tuyagate.lan.closing import STATUS_WAIT, close_gracefully
from tuyagate.lan.link import Link
from tuyagate.lan.opening import open_link
from tuyagate.protocol.codec import MessageCodec
from tuyagate.protocol.versions import get_spec
from tuyagate.sim.device import SimDevice

from .conftest import DEV_ID, KEY, ClientFactory, SimFactory, until

DPS = {"1": True, "2": 10}


async def _clean(device: SimDevice, count: int = 1) -> None:
    assert device.closes is not None
    records = await device.closes.wait(count)
    assert [r.how for r in records] == ["clean"] * count, records


async def test_many_one_shot_commands_each_close_cleanly_and_release_their_socket(sim: SimFactory) -> None:
    device = await sim(version="3.3", dps=DPS, record_closes=True, status_delay=0.0)
    for i in range(20):
        async with DeviceConnection(DEV_ID, device.host, KEY, "3.3", port=device.port, heartbeat_interval=None) as conn:
            await conn.set_dps({"2": i})
        assert not conn.connected
        assert conn.last_status == {"2": i}  # the push that followed the ACK was read before the FIN
    assert device.dps["2"] == 19
    await _clean(device, 20)
    await until(lambda: not device.connected, what="the device seeing every connection end")


async def test_the_drain_ends_on_the_devices_fin_and_the_socket_is_released_just_after(sim: SimFactory) -> None:
    device = await sim(version="3.3", dps=DPS, record_closes=True)
    owner = DeviceConnection(DEV_ID, device.host, KEY, "3.3", port=device.port, heartbeat_interval=None)
    loop = asyncio.get_running_loop()
    codec = MessageCodec(get_spec("3.3"), KEY.encode())
    link: Link = await open_link(owner, codec, device.host, device.port, None, loop.time() + 1.0)
    assert await close_gracefully(link) is True  # the device's FIN came in time
    await until(lambda: link.lost, timeout=1.0, what="the transport reporting the connection lost")
    await _clean(device)


async def test_a_connection_lost_while_its_status_is_due_ends_the_close_at_once(
    sim: SimFactory, client: ClientFactory
) -> None:
    # An ACK-only device that drops idle connections after 50 ms: the STATUS a close waits for never
    # comes, and the link goes down first; the close must not sit out the rest of STATUS_WAIT.
    device = await sim(version="3.3", dps=DPS, control_reply="ack", idle_timeout=0.05)
    conn = client(device)
    await conn.set_dps({"1": False})
    loop = asyncio.get_running_loop()
    start = loop.time()
    await conn.close()
    took = loop.time() - start
    assert took < STATUS_WAIT * 0.6, f"the close took {took:.3f} s"
    assert device.dps["1"] is False


async def test_a_push_nobody_follows_still_updates_the_last_known_state(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3", dps=DPS)
    conn = client(device)
    await conn.status()
    await device.set_dps({"2": 42})  # the device pushes STATUS by itself (someone pressed its button)
    await until(lambda: (conn.last_status or {}).get("2") == 42, what="the push reaching last_status")
    assert conn.stats.events == 0  # no subscriber, so no event was built or published
