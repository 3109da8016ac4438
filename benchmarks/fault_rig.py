"""The test bench of the fault matrix: emulated devices, the real hub and the real gateway on loopback.

One :class:`Rig` per row of the matrix (``benchmarks/faults.py``), so a fault never leaks into the
next row: one emulated plug per LAN protocol version (3.1, 3.3, 3.4, 3.5) on its own loopback
address, optionally a cloud-only plug behind the Tuya cloud emulator and a reflashed plug (the
Tasmota emulator), a registry and vault in a temporary directory, the hub built from them as
``tuyagate serve`` builds it, and the gateway app served by uvicorn on 127.0.0.1. Requests go over
HTTP to that server, and what they measure is what a client of the gateway sees.

:func:`timed` measures one request; :func:`recover` asks again until the answer is right, which is
how the matrix times recovery once a fault clears.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from tuyagate.cloud.client import TuyaCloudClient
from tuyagate.devices.hub import Home, HubOptions, build_hub
from tuyagate.devices.manifest_import import parse_fleet_manifest
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.tinytuya_import import write_import
from tuyagate.devices.vault import Vault
from tuyagate.gateway.app import create_app
from tuyagate.gateway.server import ServedApp, serve_app
from tuyagate.gateway.settings import GatewaySettings
from tuyagate.sim.cloud_server import RunningCloud, start_cloud_server
from tuyagate.sim.cloud_state import CloudConfig
from tuyagate.sim.device import SimDevice
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest, ManifestDevice
from tuyagate.sim.tasmota import TasmotaConfig
from tuyagate.sim.tasmota_app import TasmotaSim, start_tasmota

__all__ = ["DEADLINE", "LAN_VERSIONS", "Answer", "Rig", "recover", "timed"]

LAN_VERSIONS = ("3.1", "3.3", "3.4", "3.5")
DEADLINE = 1.0  # the gateway's request deadline (request_timeout) in every row
CLOUD_ID, CLOUD_SECRET = "faultmatrixcloud0001", "f" * 32
CLOUD_PLUG, TASMOTA_PLUG = "cloud plug", "tasmota plug"
# Short reconnect waits, as a gateway configured for a LAN of mains-powered devices would use.
HUB_OPTIONS = HubOptions(timeout=DEADLINE, lan_timeout=DEADLINE, retry_base=0.1, retry_cap=1.0, flush_interval=60.0)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the gateway answered one request: HTTP status, error code (None on success), body, seconds."""

    status: int
    code: str | None
    body: dict[str, Any]
    elapsed: float

    @property
    def outcome(self) -> str:
        """``200 ok`` or ``<status> <code>``: the matrix's outcome column."""
        return f"{self.status} {self.code or 'ok'}"


def _answer(response: httpx.Response, elapsed: float) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text[:200]}
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code")) if isinstance(error, dict) else None
    return Answer(response.status_code, code, body if isinstance(body, dict) else {"value": body}, elapsed)


async def timed(request: Awaitable[httpx.Response]) -> Answer:
    """Send one request and time it (the client's view: from sending to the whole answer)."""
    started = time.perf_counter()
    response = await request
    return _answer(response, time.perf_counter() - started)


async def recover(
    ask: Callable[[], Awaitable[Answer]], right: Callable[[Answer], bool], *, within: float = 10.0, every: float = 0.05
) -> float | None:
    """Seconds until ``ask()`` gives a right answer (asked every ``every`` s), or None if not ``within``."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        if right(await ask()):
            return time.perf_counter() - started
        await asyncio.sleep(every)
    return None


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Rig:
    """A gateway in front of emulated devices, for one row of the matrix (``async with Rig(...)``).

    ``first_ip`` is the loopback address of the 3.1 plug; the others follow it. ``cloud`` adds a
    cloud-only plug behind the cloud emulator (and the hub's cloud login), ``tasmota`` a reflashed plug.
    """

    def __init__(
        self, first_ip: str, *, cloud: bool = False, tasmota: bool = False, lan: bool = True, discovery: bool = False
    ) -> None:
        self.first_ip = first_ip
        self.with_cloud, self.with_tasmota, self.with_lan = cloud, tasmota, lan
        # Follow devices that move, from UDP announcements sent to this port on 127.0.0.1.
        self.discovery_port: int | None = _free_udp_port() if discovery else None
        self.manifest = FleetManifest([])
        self.fleet: SimFleet | None = None
        self.cloud: RunningCloud | None = None
        self.tasmota: TasmotaSim | None = None
        self.hub: Home | None = None
        self.registry: Registry | None = None
        self.vault: Vault | None = None
        self.served: ServedApp | None = None
        self.client = httpx.AsyncClient()
        self.directory = Path(tempfile.mkdtemp(prefix="tuyagate-faults-"))
        self._stack = AsyncExitStack()
        self._new_keys: dict[str, str] = {}

    # ---------------------------------------------------------------- names

    @staticmethod
    def plug(version: str) -> str:
        """The registry name of the LAN plug speaking ``version``."""
        return f"plug {version}"

    def sim(self, version: str) -> SimDevice:
        assert self.fleet is not None
        return self.fleet.sim_for(self.device(self.plug(version)).id)

    def device(self, name: str) -> ManifestDevice:
        return next(d for d in self.manifest.devices if d.name == name)

    def new_address(self, version: str) -> str:
        """Where the plug of ``version`` moves to (another loopback address of the rig)."""
        return str(ipaddress.IPv4Address(self.first_ip) + 16 + LAN_VERSIONS.index(version))

    def repair(self, version: str) -> None:
        """Re-pair the plug of ``version``: it takes a new local key the gateway does not know yet."""
        key = f"repaired{version.replace('.', '')}key0000"[:16]
        self.sim(version).rekey(key)
        self._new_keys[self.device(self.plug(version)).id] = key

    async def sync_keys(self) -> None:
        """The new keys reach the vault, as ``tuyagate cloud sync`` (or ``devices add --key``) leaves them."""
        assert self.vault is not None
        for device_id, key in self._new_keys.items():
            self.vault.put(secret_name(device_id), key)

    # ---------------------------------------------------------------- requests

    def read(self, name: str) -> Awaitable[Answer]:
        """A forced-fresh status read (``refresh=true``): it must reach the device."""
        return timed(self.client.get(f"/api/v1/devices/{name}/status", params={"refresh": "true"}))

    def cached(self, name: str) -> Awaitable[Answer]:
        return timed(self.client.get(f"/api/v1/devices/{name}/status"))

    def command(self, name: str, value: bool) -> Awaitable[Answer]:
        return timed(self.client.post(f"/api/v1/devices/{name}/commands", json={"dps": {"1": value}}))

    # ---------------------------------------------------------------- lifecycle

    def _layout(self) -> FleetManifest:
        base = ipaddress.IPv4Address(self.first_ip)
        devices: list[ManifestDevice] = []
        if self.with_lan:
            lan = SimFleet.generate(
                len(LAN_VERSIONS), versions=LAN_VERSIONS, first_ip=str(base), port=0, kinds=["plug"]
            )
            for dev in lan.devices:
                dev.name = self.plug(dev.version)
            devices += lan.devices
        if self.with_cloud:
            (dev,) = SimFleet.generate(1, first_ip=str(base + 8), kinds=["plug"]).devices
            dev.id, dev.name, dev.ip, dev.lan = "bfcloudonly000faults", CLOUD_PLUG, "", False
            devices.append(dev)
        return FleetManifest(devices)

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self.manifest = self._layout()
        self.fleet = SimFleet(self.manifest)
        await self.fleet.start()
        self._stack.push_async_callback(self.fleet.stop)
        cloud_client: TuyaCloudClient | None = None
        if self.with_cloud:
            self.cloud = await start_cloud_server(
                CloudConfig(CLOUD_ID, CLOUD_SECRET), self.manifest, backend=self.fleet.backend
            )
            self._stack.push_async_callback(self.cloud.stop)
            cloud_client = TuyaCloudClient(CLOUD_ID, CLOUD_SECRET, base_url=self.cloud.base_url)
            self._stack.push_async_callback(cloud_client.aclose)
        self.registry = registry = Registry.open(self.directory)
        self._stack.callback(registry.close)
        self.vault = Vault.open(registry.db, self.directory, env={})
        write_import(parse_fleet_manifest(self.manifest.to_dict()), registry, self.vault)
        if self.with_tasmota:
            self.tasmota = await start_tasmota(TasmotaConfig(), host=str(ipaddress.IPv4Address(self.first_ip) + 9))
            self._stack.push_async_callback(self.tasmota.stop)
            registry.add(
                DeviceRecord(
                    id="tasmotafaults", name=TASMOTA_PLUG, backend="tasmota", settings={"url": self.tasmota.url}
                )
            )
        options = HUB_OPTIONS
        if self.discovery_port is not None:
            options = replace(options, discovery_listen="127.0.0.1", discovery_ports=(self.discovery_port,))
        self.hub = build_hub(registry, self.vault, cloud=cloud_client, options=options)
        await self.hub.start()
        self._stack.push_async_callback(self.hub.close)
        settings = GatewaySettings(
            data_dir=self.directory, request_timeout=DEADLINE, scan_listen="127.0.0.1", scan_probe=""
        )
        app = create_app(settings, self.hub, manage_manager=False)
        self.served = await serve_app(app, "127.0.0.1", 0)
        self._stack.push_async_callback(self.served.stop)
        self.client = httpx.AsyncClient(base_url=self.served.url, timeout=10.0)
        self._stack.push_async_callback(self.client.aclose)
        for device in self.hub.devices():  # every device has answered once: its connection is up
            await device.status(refresh=True, timeout=5.0)
        for version in LAN_VERSIONS if self.with_lan else ():  # and taken a command, as in a home in use
            plug = self.hub.device(self.plug(version))
            await plug.set({"1": self.sim(version).dps["1"]}, timeout=5.0)

    async def stop(self) -> None:
        try:
            await self._stack.aclose()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def __aenter__(self) -> Rig:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
