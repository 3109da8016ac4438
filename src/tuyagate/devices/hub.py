"""A home: all configured devices behind one :class:`~tuyagate.device_api.DeviceManager`.

Library users get one from :func:`tuyagate.open_home`. :func:`build_hub`, which it calls, turns
registry records into devices: a stock Tuya device gets a LAN route (one
:class:`~tuyagate.lan.connection.DeviceConnection` per address, shared by a Zigbee gateway's
sub-devices) and, when a cloud login is given, a cloud route; a reflashed device gets its
firmware's backend.

The home owns the one event bus: every device's events are published into it by a listener (a
function call inside the device's own publish, no task and no queue), and every consumer (SSE
clients, the registry flush, MQTT, the dashboard, ``home.events()``) subscribes to it with its own
bounded queue. The registry flush is a listener too: it notes which devices changed and writes
their last state to the registry in batches (not on every push).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuyagate.bus import EventBus, Subscription
from tuyagate.device_api import Device, DeviceEvent
from tuyagate.devices.registry import DeviceRecord, Registry, secret_name
from tuyagate.devices.routes import CloudApi, CloudRoute, LanRoute
from tuyagate.devices.sleepy import sleepy_policy
from tuyagate.devices.tuya_device import TuyaDevice
from tuyagate.devices.vault import Vault
from tuyagate.errors import NotFoundError
from tuyagate.schema.builtin import guess_builtin_schema

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection
    from tuyagate.lan.follower import DiscoveryFollower

__all__ = ["Home", "HubOptions", "build_hub"]

_LOGGER = logging.getLogger(__name__)
FLASHED_BACKENDS = ("tasmota", "openbeken", "esphome")
QUEUE_SIZE = 1024  # events a subscriber may fall behind by before it loses the oldest (and reads a lost marker)


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


class Home:
    """A set of devices started and stopped together, with the one event bus they publish into.

    ``async with`` starts and closes it. With ``owns_registry`` closing it also closes the registry
    (``open_home`` opens one for the home's lifetime); otherwise the caller owns the registry.
    """

    def __init__(
        self,
        devices: Iterable[Device],
        *,
        registry: Registry | None = None,
        connections: Iterable[DeviceConnection] = (),
        cloud: CloudApi | None = None,
        flush_interval: float = 5.0,
        discovery: tuple[str, tuple[int, ...]] | None = None,
        owns_registry: bool = False,
    ) -> None:
        self._devices: dict[str, Device] = {}
        for device in devices:
            self._devices[device.info.id] = device
        self._registry = registry
        self._connections = list(connections)
        self._cloud = cloud
        self._flush_interval = flush_interval
        self._dirty: set[str] = set()  # devices whose state changed since the last flush
        self._bus: EventBus[DeviceEvent] = EventBus(lost=DeviceEvent.lost, maxsize=QUEUE_SIZE)
        self._stops: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._discovery = discovery
        self._owns_registry = owns_registry
        self.follower: DiscoveryFollower | None = None

    def __repr__(self) -> str:
        return f"Home({len(self._devices)} devices, cloud={'yes' if self._cloud is not None else 'no'})"

    # ---------------------------------------------------------------- devices

    @property
    def registry(self) -> Registry | None:
        """The registry the devices came from (None for an ad-hoc home)."""
        return self._registry

    @property
    def cloud(self) -> CloudApi | None:
        """The cloud client behind every device's cloud route (None when LAN-only)."""
        return self._cloud

    def devices(self) -> list[Device]:
        """Every device, in registry order."""
        return list(self._devices.values())

    def device(self, id_or_name: str) -> Device:
        """The device with this id, else the one device with this name (any case); NotFoundError otherwise."""
        device = self._devices.get(id_or_name)
        if device is not None:
            return device
        wanted = id_or_name.casefold()
        named = [d for d in self._devices.values() if d.info.name.casefold() == wanted]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise NotFoundError(f"{len(named)} devices are named {id_or_name!r}: use the device id")
        raise NotFoundError(f"no device {id_or_name!r}")

    def events(
        self, *, devices: Collection[str] | None = None, maxsize: int | None = None
    ) -> Subscription[DeviceEvent]:
        """Every device's events from now on (or only those of the device ids in ``devices``).

        A bounded subscription: a reader that falls ``maxsize`` events behind loses the oldest and
        then reads a ``lost`` marker event. Close it (``async with``, or ``close()``) when done.
        """
        wanted = frozenset(devices) if devices is not None else None
        accept = None if wanted is None else (lambda e: e.device_id in wanted or e.kind == "lost")
        return self._bus.subscribe(accept=accept, maxsize=maxsize)

    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Call ``callback`` inside every device's publish (quick, never raising); returns its stop function."""
        return self._bus.listen(callback)

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for device in self._devices.values():
            if isinstance(device, TuyaDevice):
                await device.start()
            self._stops.append(device.listen(self._bus.publish))
        if self._registry is not None:
            self._stops.append(self._bus.listen(self._note))
            self._tasks.append(asyncio.create_task(self._flusher(), name="tuyagate-state-flush"))
        if self._discovery is not None:  # also with no LAN device: it lists the unknown ones it hears
            from tuyagate.lan.follower import DiscoveryFollower

            listen, ports = self._discovery
            by_id = {c.device_id: c for c in self._connections}
            self.follower = DiscoveryFollower(by_id, listen_host=listen, ports=ports, on_moved=self._moved)
            await self.follower.start()

    async def close(self) -> None:
        if self.follower is not None:
            await self.follower.close()
        for stop in self._stops:
            stop()
        self._stops.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for device in self._devices.values():
            with contextlib.suppress(Exception):
                await device.close()
        # At once: each close waits briefly for its device to close its side (a clean close).
        await asyncio.gather(*(connection.close() for connection in self._connections), return_exceptions=True)
        if self._cloud is not None:
            with contextlib.suppress(Exception):
                await self._cloud.aclose()
        self._flush()
        self._bus.close()
        if self._owns_registry and self._registry is not None:
            self._registry.close()

    async def __aenter__(self) -> Home:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connections(self) -> tuple[DeviceConnection, ...]:
        """The LAN connections (one per device address), for metrics."""
        return tuple(self._connections)

    # ---------------------------------------------------------------- internals

    def _moved(self, device_id: str, ip: str) -> None:
        """Save a device's new address (reported by the discovery follower)."""
        if self._registry is None:
            return
        try:
            self._registry.update(device_id, address=ip)
        except Exception as exc:  # noqa: BLE001 - the connection already follows; saving is best effort
            _LOGGER.warning("could not save the new address of %s: %s", device_id, exc)

    def _note(self, event: DeviceEvent) -> None:
        """Remember that a device's state changed, for the next registry flush (a bus listener)."""
        if event.kind == "state":
            self._dirty.add(event.device_id)

    def _flush(self) -> None:
        if self._registry is None or not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        updates: dict[str, dict[str, Any]] = {}
        for device_id in dirty:
            device = self._devices.get(device_id)
            state = device.cached_state() if device is not None else None
            if state is not None and isinstance(device, TuyaDevice):  # flashed devices keep no registry state
                updates[device_id] = state.dps
        if not updates:
            return
        try:
            self._registry.record_states(updates)
        except Exception as exc:  # noqa: BLE001 - persistence must never take the gateway down
            _LOGGER.warning("could not save device states: %s", exc)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            self._flush()


def build_hub(
    registry: Registry,
    vault: Vault,
    *,
    cloud: CloudApi | None = None,
    options: HubOptions | None = None,
    records: Iterable[DeviceRecord] | None = None,
    owns_registry: bool = False,
) -> Home:
    """Devices for every registry record (or ``records``), with their routes."""
    from tuyagate.lan.backoff import Backoff
    from tuyagate.lan.connection import DeviceConnection

    opts = options or HubOptions()
    all_records = list(records) if records is not None else registry.devices()
    by_id = {r.id: r for r in registry.devices()} if records is not None else {r.id: r for r in all_records}
    connections: dict[str, DeviceConnection] = {}

    def connection_for(rec: DeviceRecord) -> DeviceConnection | None:
        if rec.id in connections:
            return connections[rec.id]
        key = vault.get(secret_name(rec.id))
        if not key or not rec.address or rec.backend == "tuya-cloud":
            return None
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
            key_source=lambda: vault.get(secret_name(rec.id)),
            # A battery device is awake for seconds: retry often so its wake-up is not missed.
            backoff=Backoff(0.2, maximum=1.0) if sleepy_policy(rec) is not None else None,
        )
        connections[rec.id] = conn
        return conn

    devices: list[Device] = []
    for rec in all_records:
        if rec.backend in FLASHED_BACKENDS:
            devices.append(_flashed(rec, vault, opts))
            continue
        schema = rec.schema
        if not len(schema):
            schema = guess_builtin_schema(rec.category, rec.last_state) or schema
        lan: LanRoute | None = None
        if rec.parent_id and rec.cid:
            parent = by_id.get(rec.parent_id)
            conn = connection_for(parent) if parent is not None else None
            lan = LanRoute(conn, cid=rec.cid) if conn is not None else None
        else:
            conn = connection_for(rec)
            lan = LanRoute(conn) if conn is not None else None
        cloud_route = CloudRoute(cloud, rec.id, schema) if cloud is not None else None
        devices.append(
            TuyaDevice(
                rec,
                schema=schema,
                lan=lan,
                cloud=cloud_route,
                timeout=opts.timeout,
                lan_timeout=opts.lan_timeout if cloud_route is not None else opts.timeout,
                cache_ttl=opts.cache_ttl,
                retry_base=opts.retry_base,
                retry_cap=opts.retry_cap,
            )
        )
    discovery = (opts.discovery_listen, opts.discovery_ports) if opts.discovery_listen is not None else None
    hub = Home(
        devices,
        owns_registry=owns_registry,
        registry=registry,
        connections=connections.values(),
        cloud=cloud,
        flush_interval=opts.flush_interval,
        discovery=discovery,
    )
    return hub


def _flashed(rec: DeviceRecord, vault: Vault, opts: HubOptions) -> Device:
    from tuyagate.flashed.device import make_device

    url = rec.settings.get("url")
    if not url:
        from tuyagate.errors import ConfigError

        raise ConfigError(f"{rec.name} ({rec.backend}) has no url in the registry")
    device: Device = make_device(
        rec.backend,
        str(url),
        user=rec.settings.get("user"),
        password=vault.get(secret_name(rec.id, "password")),
        device_id=rec.id,
        name=rec.name,
        category=rec.category,
        poll_interval=opts.poll_interval,
    )
    return device
