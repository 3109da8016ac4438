"""A home: all configured devices behind one :class:`~tuyagate.device_api.DeviceManager`.

Library users get one from :func:`tuyagate.open_home`. :func:`build_hub`, which it calls, turns
registry records into devices with a :class:`~tuyagate.devices.factory.DeviceFactory` that the home
keeps: devices come and go while it runs (:meth:`Home.add`, :meth:`Home.remove`, and
:meth:`Home.reload`, which applies what changed in the registry), each built the one way a device
present at start is built. An ``added`` or ``removed`` event on the bus tells every consumer.

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
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuyagate.bus import EventBus, Subscription
from tuyagate.device_api import Device, DeviceEvent
from tuyagate.devices.factory import FLASHED_BACKENDS, Built, DeviceFactory, HubOptions, Wiring
from tuyagate.devices.registry import DeviceRecord, Registry
from tuyagate.devices.tuya_device import TuyaDevice
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from tuyagate.devices.routes import CloudApi
    from tuyagate.lan.connection import DeviceConnection
    from tuyagate.lan.follower import DiscoveryFollower

__all__ = ["FLASHED_BACKENDS", "Home", "HubOptions", "ReloadResult", "build_hub"]

_LOGGER = logging.getLogger(__name__)
QUEUE_SIZE = 1024  # events a subscriber may fall behind by before it loses the oldest (and reads a lost marker)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What :meth:`Home.reload` changed: device ids added, removed and replaced (rebuilt with a new
    address, port, version, key, backend, URL, gateway, name or schema), and the records that could
    not become devices (id -> the reason)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.replaced)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "replaced": list(self.replaced),
            "errors": dict(self.errors),
        }


class Home:
    """A set of devices started and stopped together, with the one event bus they publish into.

    ``async with`` starts and closes it. With ``owns_registry`` closing it also closes the registry
    (``open_home`` opens one for the home's lifetime); otherwise the caller owns the registry. A home
    made by :func:`build_hub` holds its ``factory`` and can add, remove and reload devices; one made
    from ready devices cannot (ConfigError).
    """

    def __init__(
        self,
        devices: Iterable[Device] = (),
        *,
        registry: Registry | None = None,
        connections: Iterable[DeviceConnection] = (),
        cloud: CloudApi | None = None,
        flush_interval: float = 5.0,
        discovery: tuple[str, tuple[int, ...]] | None = None,
        owns_registry: bool = False,
        factory: DeviceFactory | None = None,
        records: Iterable[DeviceRecord] = (),
        only: Collection[str] | None = None,
    ) -> None:
        """``factory`` builds a device for each of ``records`` (after ``devices``, which are taken as they
        are); ``only``: the device ids this home serves of its registry (None: all), which
        :meth:`reload` keeps to."""
        self._devices: dict[str, Device] = {}
        for device in devices:
            self._devices[device.info.id] = device
        self._registry = registry
        # By the id of the device that owns each (a gateway's is shared by its sub-devices). The
        # discovery follower reads this very dict, so it follows devices added and removed.
        self._connections: dict[str, DeviceConnection] = {c.device_id: c for c in connections}
        self._uses: dict[str, str] = {}  # device id -> key of the connection its LAN route uses
        self._wiring: dict[str, Wiring] = {}  # what each device built by the factory was built from
        self._factory = factory
        self._only = frozenset(only) if only is not None else None
        self._cloud = cloud
        self._flush_interval = flush_interval
        self._dirty: set[str] = set()  # devices whose state changed since the last flush
        self._bus: EventBus[DeviceEvent] = EventBus(lost=DeviceEvent.lost, maxsize=QUEUE_SIZE)
        self._follows: dict[str, Callable[[], None]] = {}  # device id -> stops its events reaching the bus
        self._stops: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._changing = asyncio.Lock()  # one add, remove or reload at a time
        self._started = False
        self._discovery = discovery
        self._owns_registry = owns_registry
        self.follower: DiscoveryFollower | None = None
        chosen = list(records)
        if chosen:
            factory = self._require_factory()
            given = {r.id: r for r in chosen}  # a gateway listed after its sub-devices is found here

            def parent_of(device_id: str) -> DeviceRecord | None:
                return given.get(device_id) or self._parent_of(device_id)

            for record in chosen:
                self._adopt(factory.build(record, self._connections, parent_of))

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
        """Every device, in registry order (devices added while running last)."""
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
        A device replaced by :meth:`reload` keeps its id, so a filtered subscription follows it.
        """
        wanted = frozenset(devices) if devices is not None else None
        accept = None if wanted is None else (lambda e: e.device_id in wanted or e.kind == "lost")
        return self._bus.subscribe(accept=accept, maxsize=maxsize)

    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Call ``callback`` inside every device's publish (quick, never raising); returns its stop function."""
        return self._bus.listen(callback)

    # ---------------------------------------------------------------- devices at runtime

    async def add(self, record: DeviceRecord) -> Device:
        """Build a device for ``record`` (as at start), start it and publish an ``added`` event.

        ConfigError when the home already has a device with that id, or the record cannot become a
        device (a reflashed device without a URL), or the home has no factory.
        """
        async with self._changing:
            return await self._add(record)

    async def remove(self, device_id: str) -> None:
        """Publish a ``removed`` event, then stop and close the device, and its LAN connection unless a
        sub-device of the same gateway still uses it. NotFoundError when there is no such device.

        From then on the device is not found; a request already under way gets its answer or
        NotFoundError.
        """
        async with self._changing:
            await self._remove(device_id)

    async def reload(self) -> ReloadResult:
        """Apply the registry as it is now: add its new devices, remove the devices it no longer has,
        replace those whose wiring changed (a replacement keeps its id, so subscribers follow it)."""
        factory, registry = self._require_factory(), self._registry
        if registry is None:
            raise ConfigError("this home has no registry to reload")
        async with self._changing:
            self._flush()  # a replacement starts from the newest state
            records = {r.id: r for r in registry.devices() if self._only is None or r.id in self._only}
            gone = [i for i in self._wiring if i not in records]
            new = [r for i, r in records.items() if i not in self._devices]
            changed = {i for i, w in self._wiring.items() if i in records and factory.wiring(records[i]) != w}
            # A gateway rebuilt gets a new connection: its sub-devices are rebuilt on it too.
            for owner in list(changed):
                changed.update(i for i, key in self._uses.items() if key == owner and i in records)
            owners = set(self._uses.values())
            for device_id in sorted(changed | set(gone), key=lambda i: i in owners):
                await self._remove(device_id)  # sub-devices before their gateway
            errors: dict[str, str] = {}
            added: list[str] = []
            replaced: list[str] = []
            for record in [*new, *(records[i] for i in sorted(changed))]:
                try:
                    await self._add(record)
                except ConfigError as exc:
                    _LOGGER.warning("%s (%s) cannot be served: %s", record.name, record.id, exc)
                    errors[record.id] = str(exc)
                    continue
                (replaced if record.id in changed else added).append(record.id)
            removed = [*gone, *(i for i in sorted(changed) if i not in replaced)]
            return ReloadResult(tuple(added), tuple(removed), tuple(replaced), errors)

    def _require_factory(self) -> DeviceFactory:
        if self._factory is None:
            raise ConfigError("this home was made from ready devices: it cannot add or reload devices")
        return self._factory

    async def _add(self, record: DeviceRecord) -> Device:
        factory = self._require_factory()
        if record.id in self._devices:
            raise ConfigError(f"{record.name} ({record.id}) is already in this home")
        built = factory.build(record, self._connections, self._parent_of)
        self._adopt(built)
        if self._started:
            await self._follow(built.device)
            if self.follower is not None and built.connection is not None:
                self.follower.forget(built.connection)  # no longer "discovered, key unknown"
        self._bus.publish(DeviceEvent(record.id, "added", at=time.time()))
        _LOGGER.info("serving %s (%s)", record.name, record.id)
        return built.device

    async def _remove(self, device_id: str) -> None:
        device = self._devices.get(device_id)
        if device is None:
            raise NotFoundError(f"no device {device_id!r}")
        self._bus.publish(DeviceEvent(device_id, "removed", at=time.time()))
        stop = self._follows.pop(device_id, None)
        if stop is not None:
            stop()
        del self._devices[device_id]
        self._wiring.pop(device_id, None)
        self._dirty.discard(device_id)
        key = self._uses.pop(device_id, None)
        with contextlib.suppress(Exception):
            await device.close()
        if key is not None and key not in self._uses.values():
            connection = self._connections.pop(key, None)
            if connection is not None:
                await connection.close()
        _LOGGER.info("no longer serving %s (%s)", device.info.name, device_id)

    def _adopt(self, built: Built) -> None:
        device_id = built.device.info.id
        self._devices[device_id] = built.device
        self._wiring[device_id] = built.wiring
        if built.connection is not None:
            self._uses[device_id] = built.connection

    def _parent_of(self, device_id: str) -> DeviceRecord | None:
        wiring = self._wiring.get(device_id)
        if wiring is not None:
            return wiring.record
        found = self._registry.find(device_id) if self._registry is not None else None
        return found if found is not None and found.id == device_id else None

    async def _follow(self, device: Device) -> None:
        if isinstance(device, TuyaDevice):
            await device.start()
        self._follows[device.info.id] = device.listen(self._bus.publish)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for device in self._devices.values():
            await self._follow(device)
        if self._registry is not None:
            self._stops.append(self._bus.listen(self._note))
            self._tasks.append(asyncio.create_task(self._flusher(), name="tuyagate-state-flush"))
        if self._discovery is not None:  # also with no LAN device: it lists the unknown ones it hears
            from tuyagate.lan.follower import DiscoveryFollower

            listen, ports = self._discovery
            self.follower = DiscoveryFollower(self._connections, listen_host=listen, ports=ports, on_moved=self._moved)
            await self.follower.start()

    async def close(self) -> None:
        if self.follower is not None:
            await self.follower.close()
        for stop in (*self._follows.values(), *self._stops):
            stop()
        self._follows.clear()
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
        await asyncio.gather(*(c.close() for c in self._connections.values()), return_exceptions=True)
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
        return tuple(self._connections.values())

    # ---------------------------------------------------------------- internals

    def _moved(self, device_id: str, ip: str) -> None:
        """Save a device's new address (reported by the discovery follower)."""
        wiring = self._wiring.get(device_id)
        if wiring is not None:  # the connection follows already: a reload must not rebuild the device
            self._wiring[device_id] = wiring.moved(ip)
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
        """Write the changed last states now, on the calling thread (at close and before a reload)."""
        updates = self._take_updates()
        if updates:
            self._write_states(updates)

    def _take_updates(self) -> dict[str, dict[str, Any]]:
        """The last state of every device that changed since the previous flush (copied: the loop owns them)."""
        if self._registry is None or not self._dirty:
            return {}
        dirty, self._dirty = self._dirty, set()
        updates: dict[str, dict[str, Any]] = {}
        for device_id in dirty:
            device = self._devices.get(device_id)
            state = device.cached_state() if device is not None else None
            if state is not None and isinstance(device, TuyaDevice):  # flashed devices keep no registry state
                updates[device_id] = dict(state.dps)
        return updates

    def _write_states(self, updates: dict[str, dict[str, Any]]) -> None:
        if self._registry is None:
            return
        try:
            self._registry.record_states(updates)
        except Exception as exc:  # noqa: BLE001 - persistence must never take the gateway down
            _LOGGER.warning("could not save device states: %s", exc)

    async def _flusher(self) -> None:
        # The periodic write runs in a worker thread: one transaction for hundreds of devices ends
        # in an fsync that took the event loop away for tens of milliseconds every flush (the p99 of
        # MQTT commands and forced-fresh reads lined up with it). The database serializes its users
        # with a lock, and nothing on a request's path reads the registry.
        while True:
            await asyncio.sleep(self._flush_interval)
            updates = self._take_updates()
            if updates:
                await asyncio.to_thread(self._write_states, updates)


def build_hub(
    registry: Registry,
    vault: Vault,
    *,
    cloud: CloudApi | None = None,
    options: HubOptions | None = None,
    records: Iterable[DeviceRecord] | None = None,
    owns_registry: bool = False,
) -> Home:
    """Devices for every registry record (or only ``records``), with their routes; the home keeps the
    factory that built them, to add devices while it runs."""
    opts = options or HubOptions()
    chosen = list(records) if records is not None else registry.devices()
    discovery = (opts.discovery_listen, opts.discovery_ports) if opts.discovery_listen is not None else None
    return Home(
        owns_registry=owns_registry,
        registry=registry,
        cloud=cloud,
        flush_interval=opts.flush_interval,
        discovery=discovery,
        factory=DeviceFactory(vault, cloud=cloud, options=opts),
        records=chosen,
        only=[r.id for r in chosen] if records is not None else None,
    )
