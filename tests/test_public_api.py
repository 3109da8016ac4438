"""The public library API: what ``tuyagate`` exports, and open_home()/connect() on emulated devices."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import tuyagate
from tests.emulated_home import EmulatedHome, emulated_home, registry_with
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.cloud_login import save_cloud_login
from tuyagate.sim.device import SimDevice

CLIENT_ID, SECRET = "publicapitest", "p" * 32

EXPORTED = {
    # entry points
    "open_home",
    "connect",
    "Home",
    "HubOptions",
    "Deadline",
    # the device interface and its values
    "Device",
    "DeviceInfo",
    "DeviceState",
    "DeviceEvent",
    "CommandResult",
    "RouteHealth",
    "DpSchema",
    "DpDef",
    # the error tree
    "TuyaError",
    "ConfigError",
    "NotFoundError",
    "ValidationError",
    "UnknownDpError",
    "ProtocolError",
    "IntegrityError",
    "TuyaConnectionError",
    "TuyaConnectionRefused",
    "TuyaConnectionLost",
    "TuyaTimeoutError",
    "DeviceAsleepError",
    "DeviceBusyError",
    "TuyaAuthError",
    "HandshakeError",
    "KeyMismatchError",
    "LocalKeyError",
    "HandshakeTimeoutError",
    "DeviceError",
    "CloudError",
    "CloudAuthError",
    "__version__",
}


def test_all_is_the_documented_api() -> None:
    assert set(tuyagate.__all__) == EXPORTED
    for name in tuyagate.__all__:
        assert getattr(tuyagate, name) is not None
    assert issubclass(tuyagate.KeyMismatchError, tuyagate.TuyaAuthError)
    assert issubclass(tuyagate.UnknownDpError, tuyagate.ValidationError)
    with pytest.raises(AttributeError):
        _ = tuyagate.no_such_name


def test_import_tuyagate_stays_light() -> None:
    code = (
        "import sys, tuyagate; "
        "print(sorted(m for m in sys.modules if m.startswith('tuyagate') or m in ('asyncio', 'sqlite3', 'httpx')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.strip() == "['tuyagate', 'tuyagate.errors']"


@pytest.fixture
async def home_dir(tmp_path: Path) -> AsyncIterator[tuple[EmulatedHome, Path]]:
    """A data dir whose registry holds the demo fleet, with the emulated cloud's login stored."""
    async with emulated_home("127.0.9.1", CLIENT_ID, SECRET) as world:
        registry, vault = registry_with(world.manifest, tmp_path)
        save_cloud_login(registry, vault, CloudCredentials(CLIENT_ID, SECRET, base_url=world.cloud.base_url))
        registry.close()
        yield world, tmp_path


async def test_open_home_reads_sets_and_streams_events(home_dir: tuple[EmulatedHome, Path]) -> None:
    world, data = home_dir
    async with tuyagate.open_home(data) as home:
        assert home.cloud is not None  # the stored login became every device's fallback
        names = {d.info.name for d in home.devices()}
        assert {"Desk plug", "Garden sensor", "Cellar plug (cloud only)"} <= names
        plug = home.device("desk plug")  # names ignore case
        state = await plug.status()
        assert (state.route, state.values["cur_voltage"], state.dps["20"]) == ("lan", 230.1, 2301)
        flipped = not state.values["switch_1"]
        async with home.events() as events:
            result = await plug.set(switch_1=flipped)
            assert (result.route, result.dps) == ("lan", {"1": flipped})
            sim = world.fleet.sim_for(plug.info.id)
            assert sim.dps["1"] is flipped
            event = await events.get(timeout=5)
            assert (event.device_id, event.kind, event.values) == (plug.info.id, "state", {"switch_1": flipped})
        with pytest.raises(tuyagate.NotFoundError):
            home.device("no such device")
        with pytest.raises(tuyagate.ValidationError, match="between"):
            await home.device("Hall light").set(bright_value_v2=5000)
        cellar = await home.device("Cellar plug (cloud only)").status()
        assert cellar.route == "cloud"


async def test_open_home_can_be_awaited_and_limited_to_some_devices(home_dir: tuple[EmulatedHome, Path]) -> None:
    _, data = home_dir
    home = await tuyagate.open_home(data, devices=["Garden sensor"], cloud=False)
    try:
        assert home.cloud is None
        names = {d.info.name for d in home.devices()}
        assert "Garden sensor" in names
        assert "Desk plug" not in names
        assert len(names) == 2  # the sensor and the Zigbee gateway it needs
        state = await home.device("Garden sensor").status()
        assert state.route == "lan"
    finally:
        await home.close()


async def test_open_home_refuses_an_unknown_device_and_a_bad_timeout(tmp_path: Path) -> None:
    with pytest.raises(tuyagate.NotFoundError):
        async with tuyagate.open_home(tmp_path, devices=["nothing"]):
            pass
    with pytest.raises(tuyagate.ConfigError, match="timeout"):
        tuyagate.open_home(tmp_path, timeout=0)


async def test_connect_one_device_without_a_registry() -> None:
    key = "0123456789abcdef"
    async with SimDevice(
        device_id="bfpublicapi000000001", local_key=key, version="3.4", dps={"1": True, "2": 0}, host="127.0.9.200"
    ) as sim:
        async with tuyagate.connect(sim.device_id, sim.host, key, "3.4", port=sim.port) as dev:
            state = await dev.status()
            assert (state.route, state.dps) == ("lan", {"1": True, "2": 0})
            result = await dev.set({"1": False})  # no schema: DP ids are taken as given
            assert result.route == "lan"
            assert sim.dps["1"] is False
        assert sim.stats.connections_accepted == 1
        plug = await tuyagate.connect(sim.device_id, sim.host, key, "3.4", port=sim.port, category="cz")
        try:
            assert (await plug.status()).values["switch_1"] is False  # the built-in plug schema names DP 1
            await plug.set(switch_1=True)
            assert sim.dps["1"] is True
        finally:
            await plug.close()
