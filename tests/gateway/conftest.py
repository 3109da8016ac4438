"""Fixtures: the real hub over an emulated home, and real uvicorn servers on 127.0.0.1:0 in front of it.

Every gateway test talks HTTP to a real server whose ``DeviceManager`` is the real hub
(:func:`tuyagate.devices.hub.build_hub` over a registry of the demo fleet): emulated devices speaking
the Tuya LAN protocol on 127.0.x.y, and an emulated Tuya cloud in front of the same state
(tests/emulated_home.py). There is no fake device: what a test sends is validated by the real DP
schema and reaches an emulator over a real socket.

A home takes ~0.3 s to start, so one is shared per test module (``home``) by the tests that leave
its devices as they found them -- they may change values, never break a device. A test that breaks a
device (stops or silences its emulator) takes a home of its own (``start_home``). Gateways (app,
server, token store in the test's ``tmp_path``) are cheap and made per test; they serve a shared
hub without owning it.

Tests here run in their module's event loop (``pytestmark = pytest.mark.asyncio(loop_scope="module")``
in each module), which the shared home lives in.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.emulated_home import EmulatedHome, emulated_home, registry_with
from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.device_api import Device
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import ServedApp, serve_app
from tuyagate.gateway.settings import GatewaySettings
from tuyagate.sim.device import SimDevice

# The gateway's own Tuya-cloud-compatible API (what local clients use instead of Tuya's cloud).
CLOUD_CLIENT_ID = "localclientid0000001"
CLOUD_CLIENT_SECRET = "localsecret0123456789abcdefabcdef"
# The emulated Tuya cloud the hub falls back to.
EMU_CLIENT_ID, EMU_SECRET = "gatewaytests", "g" * 32
SHARED_IP, OWN_IP = "127.0.4.1", "127.0.5.1"

PLUG, SWITCH, BULB = "Desk plug", "Kitchen switch", "Living room light"  # protocol 3.3, 3.4, 3.5

# A generous LAN share of each request: 200 requests queued on one device's connection must not
# time out into the cloud on a busy 2-core machine. Tests that need a deadline set request_timeout.
HUB_OPTIONS: dict[str, Any] = {
    "timeout": 15.0,
    "lan_timeout": 12.0,
    "retry_base": 0.2,
    "retry_cap": 1.0,
    "heartbeat_interval": 5.0,
}


@dataclass
class LiveHome:
    """An emulated home and the real hub (``tuyagate.devices.hub.Home``) in front of it."""

    emulated: EmulatedHome
    hub: Home

    def device(self, name: str) -> Device:
        return self.hub.device(name)

    def id(self, name: str) -> str:
        return self.hub.device(name).info.id

    def sim(self, name: str) -> SimDevice:
        """The emulator answering for a device (its gateway's, for a sub-device)."""
        return self.emulated.fleet.sim_for(self.id(name))

    def local_keys(self) -> list[str]:
        return [d.local_key for d in self.emulated.manifest.devices]


Tamper = Callable[[Registry, Vault], None]


@asynccontextmanager
async def running_home(
    directory: Path,
    first_ip: str,
    *,
    cloud: bool = True,
    cloud_secret: str = EMU_SECRET,
    tamper: Tamper | None = None,
    **options: Any,
) -> AsyncIterator[LiveHome]:
    """The demo fleet on ``first_ip``.., a registry of it, and the started hub (with the emulated
    cloud as fallback route unless ``cloud`` is false; ``options`` override ``HUB_OPTIONS``).

    ``tamper(registry, vault)`` may change the registry before the hub is built (a wrong key, an
    extra device), ``cloud_secret`` the hub's cloud login. In a home left intact every device has
    answered once, so its connection is up and its pushes reach the hub."""
    async with emulated_home(first_ip, EMU_CLIENT_ID, EMU_SECRET) as emulated:
        registry, vault = registry_with(emulated.manifest, directory)
        if tamper is not None:
            tamper(registry, vault)
        base_url = emulated.cloud.base_url
        client = (
            TuyaCloudClient(EMU_CLIENT_ID, cloud_secret, base_url=base_url, retries=0, timeout=3) if cloud else None
        )
        hub = build_hub(registry, vault, cloud=client, options=HubOptions(**{**HUB_OPTIONS, **options}))
        try:
            await hub.start()
            intact = tamper is None and cloud_secret == EMU_SECRET
            for device in hub.devices():
                if intact and (device.info.ip or cloud):
                    await device.status(refresh=True, timeout=5.0)
            yield LiveHome(emulated, hub)
        finally:
            await hub.close()
            registry.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def home(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveHome]:
    """The module's shared home: leave its devices working."""
    async with running_home(tmp_path_factory.mktemp("home"), SHARED_IP) as shared:
        yield shared


HomeFactory = Callable[..., Awaitable[LiveHome]]


@pytest_asyncio.fixture(loop_scope="module")
async def start_home(tmp_path: Path) -> AsyncIterator[HomeFactory]:
    """A home for one test, which may break its devices (``running_home``'s options: ``cloud=False`` for
    LAN only, ``tamper=``, ``HubOptions`` fields)."""
    homes: list[LiveHome] = []
    async with AsyncExitStack() as stack:

        async def start(**options: Any) -> LiveHome:
            directory = tmp_path / f"own-home-{len(homes)}"
            homes.append(await stack.enter_async_context(running_home(directory, OWN_IP, **options)))
            return homes[-1]

        yield start


@dataclass
class Gateway:
    url: str
    app: FastAPI
    served: ServedApp
    home: LiveHome
    client: httpx.AsyncClient
    settings: GatewaySettings


GatewayFactory = Callable[..., Awaitable[Gateway]]


def make_settings(data_dir: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "request_timeout": 16.0,
        "sse_heartbeat": 0.3,
        "cloud_client_id": CLOUD_CLIENT_ID,
        "cloud_client_secret": CLOUD_CLIENT_SECRET,
        # The dashboard's scan listens on loopback and sends no broadcast probe in tests.
        "scan_listen": "127.0.0.1",
        "scan_probe": "",
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest_asyncio.fixture(loop_scope="module")
async def start_gateway(home: LiveHome, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Start gateways (over the shared home unless ``home=`` names another) with setting overrides;
    every one is stopped at the end of the test. ``manage=True`` lets the app start and close the hub."""
    started: list[Gateway] = []

    async def start(*, home: LiveHome = home, manage: bool = False, **overrides: Any) -> Gateway:
        host = overrides.pop("listen_host", "127.0.0.1")
        ssl = {k: overrides.pop(k) for k in ("ssl_certfile", "ssl_keyfile") if k in overrides}
        server_options = overrides.pop("uvicorn_options", {})  # e.g. timeout_keep_alive
        settings = make_settings(tmp_path, **overrides)
        app = create_app(settings, home.hub, manage_manager=manage)
        served = await serve_app(app, host, 0, **ssl, **server_options)
        verify: Any = _ssl.create_default_context(cafile=ssl["ssl_certfile"]) if ssl else True
        client = httpx.AsyncClient(base_url=served.url, timeout=20.0, verify=verify)
        gw = Gateway(served.url, app, served, home, client, settings)
        started.append(gw)
        return gw

    yield start
    for gw in reversed(started):
        await gw.client.aclose()
        await gw.served.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(start_gateway: GatewayFactory) -> Gateway:
    return await start_gateway()
