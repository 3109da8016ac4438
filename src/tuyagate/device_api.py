"""The one device interface that every front end (CLI, gateway, MQTT) programs against.

Whatever the backend (Tuya LAN, Tuya cloud, Tasmota, OpenBeken, ESPHome), a device is a
:class:`Device`: it reports state by DP id and by code, accepts values by code or DP id,
and streams events. :class:`tuyagate.devices.tuya_device.TuyaDevice` implements it for stock Tuya
devices (LAN route first, cloud route as fallback) and :mod:`tuyagate.flashed` for reflashed ones.
It sits at the top of the package, importing nothing of tuyagate, so that backends in lower layers
can implement it without importing the layer above them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tuyagate.bus import Subscription
    from tuyagate.deadline import Deadline
    from tuyagate.schema import DpSchema

__all__ = [
    "CommandResult",
    "Device",
    "DeviceEvent",
    "DeviceInfo",
    "DeviceManager",
    "DeviceState",
    "RouteHealth",
    "command_values",
]

Backend = Literal["tuya-lan", "tuya-cloud", "tasmota", "openbeken", "esphome"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What may be shown about a device to anyone allowed to see it (never a key)."""

    id: str
    name: str
    backend: str
    category: str = ""
    product_name: str = ""
    version: str | None = None
    ip: str | None = None
    port: int | None = None
    parent_id: str | None = None
    cid: str | None = None


@dataclass(frozen=True, slots=True)
class RouteHealth:
    """Health of one route to a device (``lan``, ``cloud``, ``tasmota``, ...)."""

    name: str
    healthy: bool
    last_ok: float | None = None  # unix time of the last success
    last_error: str | None = None  # one-line, secret-free
    failures: int = 0  # consecutive failures
    next_retry: float | None = None  # unix time the route is tried again when unhealthy


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A snapshot of a device's data points."""

    device_id: str
    dps: dict[str, Any]  # raw wire values by DP id ("1": true, "6": 2301)
    values: dict[str, Any]  # converted values by code ("switch_1": true, "cur_voltage": 230.1)
    route: str  # the route that produced it: "lan", "cloud", "cache", "tasmota", ...
    updated_at: float  # unix time
    # Battery-powered ("sleepy") devices only: asleep now (the values are those of its last
    # wake-up), the age in seconds past which they count as stale (None: not a sleepy device),
    # and the battery level in percent when the device reports one.
    asleep: bool = False
    stale_after: float | None = None
    battery: int | None = None

    def age(self, now: float) -> float:
        """Seconds between ``updated_at`` and ``now`` (unix time), never negative."""
        return max(0.0, now - self.updated_at)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: the DPs sent and the route that carried them."""

    device_id: str
    dps: dict[str, Any]
    route: str
    fallback: bool = False  # True when the preferred route failed and another one served
    validated: bool = True  # False when the device has no DP schema and the DP ids went out unchecked


EventKind = Literal["state", "online", "offline", "added", "removed", "lost"]


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A change seen on a device: new DP values, or it went online/offline.

    ``added`` and ``removed`` come from a home whose devices change while it runs: the device with
    ``device_id`` is now served (look it up), or no longer is (forget it; a device that is replaced
    is removed and added again under the same id).

    ``lost`` is the marker a subscriber reads after it fell behind and the bus dropped ``dropped``
    of its oldest events: state may have changed unseen, so re-read it (``device_id`` is empty when
    the stream covers several devices).
    """

    device_id: str
    kind: EventKind
    dps: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    route: str | None = None
    at: float = 0.0
    dropped: int = 0

    @classmethod
    def lost(cls, dropped: int, device_id: str = "") -> DeviceEvent:
        """The marker that ``dropped`` events were lost by a slow subscriber."""
        return cls(device_id, "lost", dropped=dropped)


@runtime_checkable
class Device(Protocol):
    """One controllable device, whatever its backend."""

    @property
    def info(self) -> DeviceInfo: ...

    @property
    def online(self) -> bool: ...

    def routes(self) -> list[RouteHealth]:
        """Health of each route, preferred first."""
        ...

    @property
    def schema(self) -> DpSchema:
        """The DP schema values are validated and converted with (empty when the device has none)."""
        ...

    def schema_dict(self) -> list[dict[str, Any]]:
        """The DP schema as JSON-ready dicts, by DP id.

        Each has the stored keys ``dp_id``, ``code``, ``type``, ``values``, ``mode`` and the description
        front ends read: ``label``, ``read_only``, ``write_only``, ``unit``, ``min``/``max``/``step`` in
        user units, ``scale``, ``options``, ``flags``, ``maxlen``, ``colour`` (see
        :meth:`tuyagate.schema.DpSchema.describe`).
        """
        ...

    def cached_state(self) -> DeviceState | None:
        """The last known state (from replies and pushes), without any I/O."""
        ...

    def fresh_state(self) -> DeviceState | None:
        """What ``status(refresh=False)`` would answer at once from its cache; None when it needs I/O.

        Lets a caller skip arming a deadline for an answer that is already there (a gateway's cached
        read: the timer costs more than the read itself).
        """
        ...

    async def status(
        self, *, refresh: bool = True, timeout: float | None = None, deadline: Deadline | None = None
    ) -> DeviceState:
        """Read the state; ``refresh=False`` may answer from a fresh cache.

        The request ends by ``deadline`` (or ``timeout`` seconds, or the device's default), whatever
        route serves it: a fallback route gets what the first one left.
        """
        ...

    async def set(
        self,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
        **by_code: Any,
    ) -> CommandResult:
        """Set values keyed by code or DP id (``set({"1": True})``, ``set(switch_1=True)``, or both);
        validated against the schema before sending.

        Raises ValidationError (bad value, message names the allowed range), UnknownDpError (a code
        or DP id the schema does not have; a device without any schema takes DP ids unchecked and
        answers ``validated=False``), TuyaTimeoutError, TuyaConnectionError, TuyaAuthError, DeviceError,
        CloudError.
        """
        ...

    def events(self) -> AsyncIterator[DeviceEvent]:
        """Events of this device from now on (a bounded subscription), until the device is closed."""
        ...

    def listen(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with each event as it happens (no queue); returns the function that stops it.

        The hub follows its devices this way, so a device push reaches the hub's subscribers with no
        task or queue in between.
        """
        ...

    async def close(self) -> None: ...


class DeviceManager(Protocol):
    """All configured devices, started and stopped together (the gateway holds one)."""

    def devices(self) -> list[Device]:
        """Every device."""
        ...

    def device(self, id_or_name: str) -> Device:
        """The device with this id, else the one device with this name (any case); raises NotFoundError."""
        ...

    def events(
        self, *, devices: Collection[str] | None = None, maxsize: int | None = None
    ) -> Subscription[DeviceEvent]:
        """Events of every device (or of the device ids in ``devices``) from now on, as a bounded
        subscription that reads a ``lost`` marker after it fell behind."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def command_values(values: Mapping[str, Any] | None, by_code: Mapping[str, Any]) -> dict[str, Any]:
    """The values of one ``Device.set`` call: the mapping, then the keyword arguments (which win)."""
    merged = dict(values) if values else {}
    merged.update(by_code)
    return merged
