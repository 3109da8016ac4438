"""The emulated home most end-to-end tests start from: the demo fleet and an emulated cloud sharing its state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuyagate.devices.manifest_import import parse_fleet_manifest
from tuyagate.devices.registry import Registry
from tuyagate.devices.tinytuya_import import write_import
from tuyagate.devices.vault import Vault
from tuyagate.sim.cloud_server import RunningCloud, start_cloud_server
from tuyagate.sim.cloud_state import CloudConfig
from tuyagate.sim.fleet import SimFleet
from tuyagate.sim.manifest import FleetManifest


@dataclass
class EmulatedHome:
    manifest: FleetManifest
    fleet: SimFleet
    cloud: RunningCloud


@asynccontextmanager
async def emulated_home(
    first_ip: str, client_id: str, secret: str, *, tls: bool = False, **config: Any
) -> AsyncIterator[EmulatedHome]:
    """The demo fleet on ``first_ip``.. (free ports) and the emulated cloud in front of the same state.

    ``tls`` serves the cloud over HTTPS; ``config`` are more CloudConfig fields (``app=``, ``token_ttl=``).
    """
    manifest = SimFleet.demo(first_ip=first_ip, port=0)
    fleet = SimFleet(manifest)
    await fleet.start()
    try:
        cloud = await start_cloud_server(
            CloudConfig(client_id, secret, **config), manifest, backend=fleet.backend, tls=tls
        )
        try:
            yield EmulatedHome(manifest, fleet, cloud)
        finally:
            await cloud.stop()
    finally:
        await fleet.stop()


def registry_with(manifest: FleetManifest, directory: Path) -> tuple[Registry, Vault]:
    """A registry in ``directory`` holding every device of ``manifest`` (keys in its vault)."""
    registry = Registry.open(directory)
    vault = Vault.open(registry.db, directory, env={})
    write_import(parse_fleet_manifest(manifest.to_dict()), registry, vault)
    return registry, vault
