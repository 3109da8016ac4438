"""The one way a registry record becomes a working device, used when a home starts and while it runs.

A stock Tuya device gets a LAN route (one :class:`~tuyagate.lan.connection.DeviceConnection` per
address, shared by a Zigbee gateway's sub-devices: it is keyed by the gateway's id) and, when a cloud
login is given, a cloud route; a reflashed device gets its firmware's backend. A :class:`~tuyagate.
devices.hub.Home` holds its factory, so a device added at runtime (``home.add``, ``home.reload``) is
built exactly as one present at start.

:meth:`DeviceFactory.wiring` says what a device was built from (its record without the values that
change on their own or only describe it, and fingerprints of its secrets): ``home.reload`` replaces a
device whose wiring changed and leaves the others alone, with their connections.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tuyagate.device_api import Device
from tuyagate.devices.registry import DeviceRecord, secret_name
from tuyagate.devices.routes import CloudApi, CloudRoute, LanRoute
from tuyagate.devices.sleepy import sleepy_policy
from tuyagate.devices.tuya_device import TuyaDevice
from tuyagate.errors import ConfigError
from tuyagate.schema.builtin import guess_builtin_schema

if TYPE_CHECKING:
    from tuyagate.devices.vault import Vault
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["FLASHED_BACKENDS", "Built", "DeviceFactory", "HubOptions", "Wiring"]

FLASHED_BACKENDS = ("tasmota", "openbeken", "esphome")
# The settings a device is built with; the others (uuid, model, mac, ...) only describe it.
BUILD_SETTINGS = ("url", "user", "dps_to_request", "sleepy", "wakes_every")
ParentOf = Callable[[str], DeviceRecord | None]


@dataclass(slots=True)
class HubOptions:
    """Timing knobs of the devices a hub builds."""

    timeout: float = 5.0  # whole deadline of one request, fallback included
    lan_timeout: float = 2.5  # share of it the LAN may use when a cloud route can take over
    heartbeat_interval: float = 10.0
    cache_ttl: float = 30.0
    retry_base: float = 1.0  # first wait before a failed LAN route is tried again
    retry_cap: float = 30.0
    poll_interval: float = 5.0  # flashed devices without push
    flush_interval: float = 5.0  # how often last states go to the registry
    # Follow devices that move to another IP, from their UDP broadcasts (listening only; None = off).
    discovery_listen: str | None = None
    discovery_ports: tuple[int, ...] = (6666, 6667)


@dataclass(frozen=True, slots=True)
class Wiring:
    """What a device is built from: equal wirings build the same device."""

    record: DeviceRecord  # only what builds the device: no last state, bookkeeping, schema source, uuid, ...
    key: bytes  # SHA-256 of the local key (b"" without one): a fingerprint, never the key
    password: bytes  # the same of a reflashed device's web password

    def moved(self, address: str) -> Wiring:
        """The same wiring at another address (the discovery follower already repointed the connection)."""
        return replace(self, record=replace(self.record, address=address))


@dataclass(frozen=True, slots=True)
class Built:
    """A device the factory made, and the key of the LAN connection it uses (None: no LAN route)."""

    device: Device
    connection: str | None
    wiring: Wiring


class DeviceFactory:
    """Builds devices from records with one vault, cloud client and set of options."""

    def __init__(self, vault: Vault, *, cloud: CloudApi | None = None, options: HubOptions | None = None) -> None:
        self.vault = vault
        self.cloud = cloud
        self.options = options or HubOptions()

    def wiring(self, record: DeviceRecord) -> Wiring:
        settings = {k: record.settings[k] for k in BUILD_SETTINGS if k in record.settings}
        bare = replace(
            record,
            last_state=None,
            last_seen=None,
            created_at=0.0,
            updated_at=0.0,
            schema_source="",
            product_id="",
            settings=settings,
        )
        return Wiring(bare, _digest(self.vault.get(secret_name(record.id))), self._password_digest(record))

    def _password_digest(self, record: DeviceRecord) -> bytes:
        if record.backend not in FLASHED_BACKENDS:
            return b""
        return _digest(self.vault.get(secret_name(record.id, "password")))

    def build(
        self, record: DeviceRecord, connections: MutableMapping[str, DeviceConnection], parent_of: ParentOf
    ) -> Built:
        """A device for ``record``; its LAN connection is taken from ``connections`` or made and put there.

        ``parent_of`` finds a sub-device's gateway record. Raises ConfigError for a record that cannot
        become a device (a reflashed device without a URL).
        """
        wiring = self.wiring(record)
        if record.backend in FLASHED_BACKENDS:
            return Built(self._flashed(record), None, wiring)
        opts = self.options
        schema = record.schema
        if not len(schema):
            schema = guess_builtin_schema(record.category, record.last_state) or schema
        owner: DeviceRecord | None = record
        cid: str | None = None
        if record.parent_id and record.cid:
            owner, cid = parent_of(record.parent_id), record.cid
        conn = self._connection(owner, connections) if owner is not None else None
        lan = LanRoute(conn, cid=cid) if conn is not None else None
        cloud_route = CloudRoute(self.cloud, record.id, schema) if self.cloud is not None else None
        device = TuyaDevice(
            record,
            schema=schema,
            lan=lan,
            cloud=cloud_route,
            timeout=opts.timeout,
            lan_timeout=opts.lan_timeout if cloud_route is not None else opts.timeout,
            cache_ttl=opts.cache_ttl,
            retry_base=opts.retry_base,
            retry_cap=opts.retry_cap,
        )
        return Built(device, conn.device_id if conn is not None else None, wiring)

    def _connection(
        self, rec: DeviceRecord, connections: MutableMapping[str, DeviceConnection]
    ) -> DeviceConnection | None:
        if rec.id in connections:
            return connections[rec.id]
        from tuyagate.lan.backoff import Backoff
        from tuyagate.lan.connection import DeviceConnection

        key = self.vault.get(secret_name(rec.id))
        if not key or not rec.address or rec.backend == "tuya-cloud":
            return None
        opts = self.options
        dps = rec.settings.get("dps_to_request")
        conn = DeviceConnection(
            rec.id,
            rec.address,
            key,
            rec.version,
            port=rec.port or 6668,
            timeout=opts.timeout,
            heartbeat_interval=opts.heartbeat_interval,
            device22_dps=[str(d) for d in dps] if isinstance(dps, list) else None,
            # A re-paired device's new key reaches the vault (cloud sync, devices add): read it on reconnect.
            key_source=lambda: self.vault.get(secret_name(rec.id)),
            # A battery device is awake for seconds: retry often so its wake-up is not missed.
            backoff=Backoff(0.2, maximum=1.0) if sleepy_policy(rec) is not None else None,
        )
        connections[rec.id] = conn
        return conn

    def _flashed(self, rec: DeviceRecord) -> Device:
        from tuyagate.flashed.device import make_device

        url = rec.settings.get("url")
        if not url:
            raise ConfigError(f"{rec.name} ({rec.backend}) has no url in the registry")
        device: Device = make_device(
            rec.backend,
            str(url),
            user=rec.settings.get("user"),
            password=self.vault.get(secret_name(rec.id, "password")),
            device_id=rec.id,
            name=rec.name,
            category=rec.category,
            poll_interval=self.options.poll_interval,
        )
        return device


def _digest(secret: str | None) -> bytes:
    return hashlib.sha256(secret.encode()).digest() if secret else b""
