"""Fixtures: emulated Tuya devices on 127.0.0.1 (port 0), and clients with short deadlines.

Everything started here is stopped after the test, clients before emulators. Tests wait for
conditions with :func:`until` (polling with a deadline), never with a bare sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tuyagate.lan import Backoff, DeviceConnection
from tuyagate.sim.device import SimDevice

DEV_ID = "bf12ab34cd56ef78aa01"
KEY = "0123456789abcdef"
WRONG_KEY = "fedcba9876543210"
VERSIONS = ["3.1", "3.2", "3.3", "3.4", "3.5", "device22"]

SimFactory = Callable[..., Awaitable[SimDevice]]
ClientFactory = Callable[..., DeviceConnection]


async def until(condition: Callable[[], object], *, timeout: float = 2.0, what: str = "the condition") -> float:
    """Wait until ``condition()`` is true, polling every 5 ms; fail the test after ``timeout`` seconds.

    Returns the seconds it took.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.005)
    return loop.time() - start


@pytest.fixture
async def sim() -> AsyncIterator[SimFactory]:
    """``await sim(version="3.4", dps=..., ...)`` starts an emulated device."""
    started: list[SimDevice] = []

    async def start(**kwargs: Any) -> SimDevice:
        kwargs.setdefault("device_id", DEV_ID)
        kwargs.setdefault("local_key", KEY)
        kwargs.setdefault("dps", {"1": True, "2": 0})
        device = SimDevice(**kwargs)
        await device.start()
        started.append(device)
        return device

    yield start
    # The clients are closed by now: let the emulators see their EOF first (a client a test left
    # open is cut when its emulator stops).
    with contextlib.suppress(AssertionError):
        await until(lambda: not any(device.connected for device in started), timeout=1.0)
    for device in started:
        await device.stop()


@pytest.fixture
async def client() -> AsyncIterator[ClientFactory]:
    """``client(device, key=..., version=..., **options)``: a DeviceConnection with short deadlines."""
    made: list[DeviceConnection] = []

    def make(device: SimDevice, *, key: str = KEY, version: str | None = "same", **kwargs: Any) -> DeviceConnection:
        kwargs.setdefault("timeout", 1.0)
        kwargs.setdefault("heartbeat_interval", None)
        kwargs.setdefault("backoff", Backoff(0.05, 0.4))
        conn = DeviceConnection(
            device.device_id,
            device.host,
            key,
            device.version if version == "same" else version,
            port=device.port,
            **kwargs,
        )
        made.append(conn)
        return conn

    yield make
    for conn in made:
        await conn.close()
