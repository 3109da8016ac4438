"""A fleet of emulated devices described by a :class:`~tuyagate.sim.manifest.FleetManifest`.

``SimFleet.generate`` lays out N devices on their own loopback addresses (127.0.1.1, 127.0.1.2,
... on port 6668, like real devices on a LAN) across protocol versions and product kinds;
``SimFleet.demo`` is the hand-picked fleet of ``tuyagate demo``. A started fleet runs one
:class:`~tuyagate.sim.device.SimDevice` per LAN device (sub-devices live inside their Zigbee
gateway) and gives the emulated cloud a backend that reads and writes the very same state, so
a command sent through the cloud is seen on the LAN as a STATUS push, as with real devices.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from tuyagate.errors import ConfigError, TuyaConnectionError
from tuyagate.sim.catalog import PRODUCTS, Product
from tuyagate.sim.device import SimChild, SimDevice
from tuyagate.sim.manifest import FleetManifest, ManifestDevice

__all__ = ["FleetBackend", "SimFleet"]

DEFAULT_VERSIONS = ("3.1", "3.3", "3.4", "3.5")
_MIX = ("plug", "light", "switch", "cover", "thermostat", "plug", "sensor")


def _device_id(seed: str) -> str:
    """A 20-character id shaped like Tuya's (``bf`` + 18 hex digits), stable for a seed."""
    return "bf" + hashlib.sha256(seed.encode()).hexdigest()[:18]


def _local_key(seed: str) -> str:
    """A 16-character key; printable and free of shell-hostile characters."""
    return hashlib.sha256(b"key:" + seed.encode()).hexdigest()[:16]


def _manifest_device(
    product: Product, index: int, *, name: str, version: str, ip: str, port: int, seed: str, **extra: Any
) -> ManifestDevice:
    return ManifestDevice(
        id=_device_id(seed),
        name=name,
        local_key=_local_key(seed),
        version=version,
        category=product.category,
        product_id=f"sim{product.key}{index:04d}"[:16],
        product_name=product.name,
        ip=ip,
        port=port,
        schema=list(product.schema),
        status=dict(product.state),
        **extra,
    )


class FleetBackend:
    """The emulated cloud's view of the fleet's state (implements ``CloudDeviceBackend``)."""

    def __init__(self, fleet: SimFleet) -> None:
        self._fleet = fleet
        self._cloud_only: dict[str, dict[str, Any]] = {}

    def _locate(self, device: ManifestDevice) -> tuple[SimDevice | None, str | None]:
        if device.parent_id and device.cid:
            return self._fleet.sims.get(device.parent_id), device.cid
        return self._fleet.sims.get(device.id), None

    async def get_dps(self, device: ManifestDevice) -> dict[str, Any]:
        sim, cid = self._locate(device)
        if sim is None:
            return dict(self._cloud_only.setdefault(device.id, dict(device.status)))
        return dict(sim.children[cid].dps if cid else sim.dps)

    async def set_dps(self, device: ManifestDevice, dps: dict[str, Any]) -> None:
        sim, cid = self._locate(device)
        if sim is None:
            self._cloud_only.setdefault(device.id, dict(device.status)).update(dps)
            return
        if cid and not sim.children[cid].online:
            raise TuyaConnectionError(f"sub-device {device.name} is offline")
        sim.apply_dps(dps, cid=cid)


class SimFleet:
    """Emulated devices started and stopped together."""

    def __init__(self, manifest: FleetManifest, *, idle_timeout: float = 30.0) -> None:
        self.manifest = manifest
        self.idle_timeout = idle_timeout
        self.sims: dict[str, SimDevice] = {}
        self.backend = FleetBackend(self)

    # ---------------------------------------------------------------- layouts

    @staticmethod
    def generate(
        count: int,
        *,
        versions: Iterable[str] = DEFAULT_VERSIONS,
        first_ip: str = "127.0.1.1",
        port: int = 6668,
        kinds: Iterable[str] = _MIX,
    ) -> FleetManifest:
        """N devices, one per loopback address from ``first_ip``, versions and kinds round-robin."""
        versions, kinds = list(versions), list(kinds)
        if count < 1 or not versions or not kinds:
            raise ConfigError("a fleet needs at least one device, one version and one kind")
        unknown = [k for k in kinds if k not in PRODUCTS]
        if unknown:
            raise ConfigError(f"unknown device kinds {unknown}; known: {sorted(PRODUCTS)}")
        base = ipaddress.IPv4Address(first_ip)
        if not (base + count - 1).is_loopback:
            raise ConfigError("the fleet must stay inside 127.0.0.0/8")
        devices = []
        for i in range(count):
            product = PRODUCTS[kinds[i % len(kinds)]]
            version = versions[i % len(versions)]
            devices.append(
                _manifest_device(
                    product,
                    i,
                    name=f"{product.key}-{i + 1}",
                    version=version,
                    ip=str(base + i),
                    port=port,
                    seed=f"fleet:{i}",
                )
            )
        return FleetManifest(devices)

    @staticmethod
    def demo(*, first_ip: str = "127.0.1.1", port: int = 6668) -> FleetManifest:
        """The demo fleet: a dozen devices across 3.1-3.5, a gateway with children, a cloud-only plug."""
        layout = [
            ("plug", "Desk plug", "3.3"),
            ("plug", "Kettle plug", "3.4"),
            ("plug", "Heater plug", "3.5"),
            ("plug", "Lamp plug", "3.1"),
            ("light", "Living room light", "3.5"),
            ("light", "Hall light", "3.3"),
            ("switch", "Kitchen switch", "3.4"),
            ("cover", "Bedroom curtain", "3.3"),
            ("thermostat", "Office thermostat", "3.4"),
            ("gateway", "Zigbee gateway", "3.4"),
        ]
        base = ipaddress.IPv4Address(first_ip)
        devices = [
            _manifest_device(PRODUCTS[kind], i, name=name, version=ver, ip=str(base + i), port=port, seed=f"demo:{i}")
            for i, (kind, name, ver) in enumerate(layout)
        ]
        gateway = devices[-1]
        for j, (kind, name) in enumerate([("sensor", "Garden sensor"), ("plug", "Garage plug (Zigbee)")]):
            child = _manifest_device(
                PRODUCTS[kind],
                100 + j,
                name=name,
                version=gateway.version,
                ip=gateway.ip,
                port=port,
                seed=f"demo:child:{j}",
                parent_id=gateway.id,
                cid=f"a4c138{j:010x}",
            )
            child.local_key = gateway.local_key  # sub-devices share their gateway's key
            devices.append(child)
        devices.append(
            _manifest_device(
                PRODUCTS["plug"],
                200,
                name="Cellar plug (cloud only)",
                version="3.3",
                ip="",
                port=port,
                seed="demo:cloud",
                lan=False,
            )
        )
        return FleetManifest(devices)

    # ---------------------------------------------------------------- running

    async def start(self) -> None:
        """Start every LAN device of the manifest; sub-devices join their gateway."""
        children: dict[str, dict[str, SimChild]] = {}
        for dev in self.manifest.devices:
            if dev.parent_id and dev.cid:
                children.setdefault(dev.parent_id, {})[dev.cid] = SimChild(dps=dict(dev.status), online=dev.online)
        try:
            for dev in self.manifest.devices:
                if dev.backend != "tuya" or not dev.lan or dev.parent_id:
                    continue
                sim = SimDevice(
                    device_id=dev.id,
                    local_key=dev.local_key,
                    version=dev.version,
                    dps=dev.status or {"1": False},
                    host=dev.ip,
                    port=dev.port,
                    children=children.get(dev.id),
                    idle_timeout=self.idle_timeout,
                )
                await sim.start()
                self.sims[dev.id] = sim
                dev.port = sim.port  # port 0 resolves to the bound port
        except OSError as exc:
            await self.stop()
            raise ConfigError(f"cannot start the emulated fleet: {exc.strerror or exc}") from None

    async def stop(self) -> None:
        """Stop every emulated device."""
        for sim in list(self.sims.values()):
            await sim.stop()
        self.sims.clear()

    async def __aenter__(self) -> SimFleet:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def sim_for(self, device_id: str) -> SimDevice:
        """The emulator serving a device (its gateway's, for a sub-device)."""
        dev = self.manifest.get(device_id)
        if dev is None:
            raise ConfigError(f"no device {device_id} in the fleet")
        return self.sims[dev.parent_id or dev.id]
