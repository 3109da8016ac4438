"""Battery-powered ("sleepy") devices: caught at each wake-up, read from the cache while asleep,
never offline for sleeping, commands refused with ``device_asleep`` - through the library and the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import tuyagate
from tuyagate import DeviceAsleepError
from tuyagate.device_api import Device
from tuyagate.devices.hub import Home, HubOptions
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.sim.device import SimDevice
from tuyagate.sim.sleepy import SleepyRunner

DEV_ID, KEY = "bfsleepysensor000001", "0123456789abcdef"
WAKES_EVERY = 2.5
DEADLINE = 10.0


@dataclass
class Sleepy:
    home: Home
    device: Device
    runner: SleepyRunner
    sim: SimDevice


async def _until(check: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``check`` until it holds, failing with ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sleepy(tmp_path: Path) -> AsyncIterator[Sleepy]:
    # A temperature/humidity sensor (built-in wsdcg schema): 1 temperature, 2 humidity, 4 battery %, 9 unit.
    sim = SimDevice(
        device_id=DEV_ID, local_key=KEY, version="3.3", dps={"1": 215, "2": 54, "4": 80, "9": "c"}, idle_timeout=60
    )
    runner = SleepyRunner(sim, sleep_every=1.0, awake_for=1.5, battery_dp="4", battery_step=5)
    await runner.start()
    registry = Registry.open(tmp_path)
    vault = Vault.open(registry.db, tmp_path, env={})
    registry.add(
        DeviceRecord(
            id=DEV_ID,
            name="Hall sensor",
            address=sim.host,
            port=sim.port,
            version="3.3",
            category="wsdcg",
            settings={"sleepy": True, "wakes_every": WAKES_EVERY},
        )
    )
    vault.put(secret_name(DEV_ID), KEY)
    registry.close()
    home = await tuyagate.open_home(tmp_path, cloud=False, options=HubOptions(timeout=1.0, flush_interval=0.1))
    try:
        yield Sleepy(home, home.device("Hall sensor"), runner, sim)
    finally:
        await home.close()
        await runner.stop()


async def _first_wake_up(s: Sleepy) -> None:
    """The device's push at its wake-up lands in the cache (the LAN connection caught the wake-up)."""
    await _until(lambda: (state := s.device.cached_state()) is not None and "va_temperature" in state.values, "a push")


async def _asleep(s: Sleepy) -> None:
    await s.runner.wait_asleep(DEADLINE)
    await _until(lambda: getattr(s.device, "asleep", False), "the router saw the device fall asleep")


async def test_asleep_reads_come_from_the_last_wake_up_and_writes_are_refused(sleepy: Sleepy) -> None:
    s = sleepy
    await _first_wake_up(s)
    await _asleep(s)
    assert s.sim.clients == 0
    assert not s.runner.awake

    state = await s.device.status()  # a refresh asked for, but nobody listens: the cache answers at once
    assert state.route == "cache"
    assert state.asleep is True
    assert state.values["va_temperature"] == pytest.approx(21.5)
    assert state.battery == 80
    assert state.stale_after == 2 * WAKES_EVERY
    assert 0 <= state.age(state.updated_at + 1.0) == pytest.approx(1.0)
    # Sleeping is not being broken: online, and every route healthy.
    assert s.device.online is True
    assert all(route.healthy for route in s.device.routes())

    with pytest.raises(DeviceAsleepError, match="asleep") as caught:
        await s.device.set(temp_unit_convert="f")
    assert caught.value.wakes_every == WAKES_EVERY
    assert caught.value.last_seen == state.updated_at
    assert KEY not in str(caught.value)
    assert s.sim.dps["9"] == "c"  # nothing reached the device


async def test_each_wake_up_is_caught_and_commands_work_while_awake(sleepy: Sleepy) -> None:
    s = sleepy
    await _first_wake_up(s)
    await _asleep(s)
    events = s.device.events()
    await s.runner.wait_awake(DEADLINE)  # second wake-up: the battery dropped by 5 %
    await _until(lambda: not getattr(s.device, "asleep", True), "the router reconnected to the awake device")
    state = await s.device.status()
    assert state.route == "lan"
    assert state.asleep is False
    assert state.battery == 75
    result = await s.device.set(temp_unit_convert="f")
    assert result.route == "lan"
    assert s.sim.dps["9"] == "f"
    kinds = []
    async with asyncio.timeout(1.0):
        while (event := await anext(aiter(events))).kind != "state" or "battery_percentage" not in event.values:
            kinds.append(event.kind)
    assert "offline" not in kinds  # falling asleep and waking never read as offline


async def test_the_gateway_answers_with_age_and_refuses_commands_with_device_asleep(
    sleepy: Sleepy, tmp_path: Path
) -> None:
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.server import serve_app
    from tuyagate.gateway.settings import GatewaySettings

    s = sleepy
    await _first_wake_up(s)
    await _asleep(s)
    settings = GatewaySettings(data_dir=tmp_path)
    served = await serve_app(create_app(settings, s.home, manage_manager=False), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=10.0) as client:
            answer = await client.get(f"/api/v1/devices/{DEV_ID}/status", params={"refresh": "true"})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["route"] == "cache"
            assert body["asleep"] is True
            assert body["battery"] == 80
            assert body["stale_after"] == 2 * WAKES_EVERY
            assert body["age"] >= 0
            listed = (await client.get(f"/api/v1/devices/{DEV_ID}")).json()
            assert listed["online"] is True
            assert all(route["healthy"] for route in listed["routes"])
            refused = await client.post(
                f"/api/v1/devices/{DEV_ID}/commands", json={"commands": [{"code": "temp_unit_convert", "value": "f"}]}
            )
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "device_asleep"
            assert "awake" in error["message"]
    finally:
        await served.stop()
    assert s.sim.dps["9"] == "c"
