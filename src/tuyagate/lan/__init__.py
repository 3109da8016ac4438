"""The asyncio LAN client over :mod:`tuyagate.protocol` (see DESIGN.md, lan/).

- :class:`DeviceConnection`: one persistent, serialized connection per device, with heartbeats,
  reconnects with backoff, deadlines on every call, push events and version auto-detection.
- :class:`SubDevice`: a child of a Zigbee/BLE gateway, through the gateway's connection.
- :class:`Event` / :class:`Subscription`: the push stream.
- :func:`scan`: UDP discovery (broadcast listener and 3.5 ``REQ_DEVINFO`` probe).

Discovery is imported on first use (PEP 562): a client of known devices never needs its UDP code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuyagate.lan.backoff import Backoff
from tuyagate.lan.connection import DEFAULT_PORT, ConnectionStats, DeviceConnection
from tuyagate.lan.events import Event, EventKind, Subscription
from tuyagate.lan.subdevice import SubDevice

if TYPE_CHECKING:
    from tuyagate.lan.scanner import DiscoveredDevice, scan

__all__ = [
    "DEFAULT_PORT",
    "Backoff",
    "ConnectionStats",
    "DeviceConnection",
    "DiscoveredDevice",
    "Event",
    "EventKind",
    "SubDevice",
    "Subscription",
    "scan",
]


def __getattr__(name: str) -> Any:
    if name in ("DiscoveredDevice", "scan"):
        from tuyagate.lan import scanner

        return getattr(scanner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
