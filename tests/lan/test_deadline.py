"""One deadline handed down: every public request takes a ``Deadline`` besides ``timeout``.

Also the connection's named seams (``connect`` telling whether it opened, ``heartbeat`` with
``reconnect=False``, ``busy``, ``last_sent``, ``wanted``) that its keep-alive uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tuyagate.deadline import Deadline
from tuyagate.errors import TuyaTimeoutError
from tuyagate.lan import DeviceConnection

from .conftest import ClientFactory, SimFactory, until

Call = Callable[[DeviceConnection, Deadline], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "status": lambda dev, d: dev.status(deadline=d),
    "set_dps": lambda dev, d: dev.set_dps({"1": False}, deadline=d),
    "update_dps": lambda dev, d: dev.update_dps([1], deadline=d),
    "heartbeat": lambda dev, d: dev.heartbeat(deadline=d),
    "subdevices_online": lambda dev, d: dev.subdevices_online(deadline=d),
    "child.status": lambda dev, d: dev.child("c1").status(deadline=d),
    "child.set_dps": lambda dev, d: dev.child("c1").set_dps({"1": True}, deadline=d),
    "child.online": lambda dev, d: dev.child("c1").online(deadline=d),
}


@pytest.mark.parametrize("call", list(CALLS))
async def test_every_request_ends_at_the_callers_deadline(sim: SimFactory, client: ClientFactory, call: str) -> None:
    device = await sim(version="3.3")
    dev = client(device, timeout=5.0)  # the connection's own default would be much later
    await dev.connect()
    device.faults.silent = True
    start = time.monotonic()
    with pytest.raises(TuyaTimeoutError):
        await CALLS[call](dev, Deadline.after(0.3))
    assert 0.25 < time.monotonic() - start < 0.6


@pytest.mark.parametrize("version", ["3.3", "3.5"])
async def test_connect_and_handshake_end_at_the_deadline_too(
    sim: SimFactory, client: ClientFactory, version: str
) -> None:
    device = await sim(version=version)
    device.faults.silent = True  # 3.5: the handshake gets no answer
    dev = client(device, timeout=5.0)
    start = time.monotonic()
    with pytest.raises(TuyaTimeoutError):
        await dev.status(deadline=Deadline.after(0.3))
    assert 0.25 < time.monotonic() - start < 0.6


@pytest.mark.parametrize(("timeout", "deadline"), [(0.3, 5.0), (5.0, 0.3)])
async def test_the_earlier_of_timeout_and_deadline_wins(
    sim: SimFactory, client: ClientFactory, timeout: float, deadline: float
) -> None:
    device = await sim(version="3.3")
    device.faults.silent = True
    dev = client(device, timeout=5.0)
    start = time.monotonic()
    with pytest.raises(TuyaTimeoutError):
        await dev.status(timeout=timeout, deadline=Deadline.after(deadline))
    assert 0.25 < time.monotonic() - start < 0.6


async def test_calls_under_one_deadline_share_its_budget(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    dev = client(device, timeout=5.0)
    await dev.connect()
    device.faults.reply_delay = 0.2
    deadline = Deadline.after(0.35)
    start = time.monotonic()
    await dev.set_dps({"1": False}, deadline=deadline)  # spends ~0.2 s of it
    with pytest.raises(TuyaTimeoutError):
        await dev.status(deadline=deadline)  # gets only what is left, not a fresh 0.35 s
    assert 0.3 < time.monotonic() - start < 0.6


async def test_a_passed_deadline_fails_at_once(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    dev = client(device, timeout=5.0)
    await dev.connect()
    deadline = Deadline.after(0.0)
    start = time.monotonic()
    with pytest.raises(TuyaTimeoutError):
        await dev.status(deadline=deadline)
    assert time.monotonic() - start < 0.1


async def test_connect_says_whether_it_opened(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.4")
    dev = client(device)
    assert await dev.connect(deadline=Deadline.after(1.0)) is True
    assert await dev.connect() is False
    assert device.stats.connections_accepted == 1


async def test_heartbeat_without_reconnect_leaves_a_closed_connection_closed(
    sim: SimFactory, client: ClientFactory
) -> None:
    device = await sim(version="3.3")
    dev = client(device)
    await dev.heartbeat(reconnect=False)
    assert device.stats.connections_accepted == 0
    await dev.heartbeat()
    assert device.stats.connections_accepted == 1


async def test_the_keepalive_seams(sim: SimFactory, client: ClientFactory) -> None:
    device = await sim(version="3.3")
    dev = client(device)
    assert (dev.busy, dev.last_sent, dev.wanted) == (False, 0.0, False)
    device.faults.reply_delay = 0.1
    task = asyncio.create_task(dev.status())
    await until(lambda: device.stats.frames_received == 1, what="the query's arrival")
    during = dev.busy
    assert 0 < dev.last_sent <= asyncio.get_running_loop().time()
    await task
    assert (during, dev.busy) == (True, False)
    events = dev.events()
    subscribed = dev.wanted
    events.close()
    assert (subscribed, dev.wanted) == (True, False)
    assert client(device, keep_connected=True).wanted
