"""tuyagate: a fast, local API for every Tuya device.

The library in four names::

    import tuyagate

    async with tuyagate.open_home() as home:          # the registry, vault and cloud login of the data dir
        plug = home.device("Desk plug")                # by name or id; NotFoundError otherwise
        state = await plug.status()                    # values by code, by DP id, and the route that answered
        await plug.set(switch_1=True)                  # validated against the DP schema before anything is sent
        async with home.events() as events:            # every device's changes, one stream
            async for event in events: ...

    async with tuyagate.connect(device_id, ip, local_key, "3.4") as plug:   # one device, no registry
        ...

Importing this package loads only the error tree; :func:`open_home`, :func:`connect` and the types
are imported on first use, so ``import tuyagate`` stays cheap for scripts that need only the errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuyagate.errors import (
    CloudAuthError,
    CloudError,
    ConfigError,
    DeviceAsleepError,
    DeviceBusyError,
    DeviceError,
    HandshakeError,
    HandshakeTimeoutError,
    IntegrityError,
    KeyMismatchError,
    LocalKeyError,
    NotFoundError,
    ProtocolError,
    TuyaAuthError,
    TuyaConnectionError,
    TuyaConnectionLost,
    TuyaConnectionRefused,
    TuyaError,
    TuyaTimeoutError,
    UnknownDpError,
    ValidationError,
)

if TYPE_CHECKING:
    from tuyagate.deadline import Deadline
    from tuyagate.device_api import CommandResult, Device, DeviceEvent, DeviceInfo, DeviceState, RouteHealth
    from tuyagate.devices.home import connect, open_home
    from tuyagate.devices.hub import Home, HubOptions
    from tuyagate.schema import DpDef, DpSchema

__version__ = "0.1.0"

# name -> module that defines it, imported on first access (PEP 562)
_LAZY = {
    "open_home": "tuyagate.devices.home",
    "connect": "tuyagate.devices.home",
    "Home": "tuyagate.devices.hub",
    "HubOptions": "tuyagate.devices.hub",
    "Deadline": "tuyagate.deadline",
    "Device": "tuyagate.device_api",
    "DeviceInfo": "tuyagate.device_api",
    "DeviceState": "tuyagate.device_api",
    "DeviceEvent": "tuyagate.device_api",
    "CommandResult": "tuyagate.device_api",
    "RouteHealth": "tuyagate.device_api",
    "DpSchema": "tuyagate.schema",
    "DpDef": "tuyagate.schema",
}

__all__ = [
    "CloudAuthError",
    "CloudError",
    "CommandResult",
    "ConfigError",
    "Deadline",
    "Device",
    "DeviceAsleepError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceEvent",
    "DeviceInfo",
    "DeviceState",
    "DpDef",
    "DpSchema",
    "HandshakeError",
    "HandshakeTimeoutError",
    "Home",
    "HubOptions",
    "IntegrityError",
    "KeyMismatchError",
    "LocalKeyError",
    "NotFoundError",
    "ProtocolError",
    "RouteHealth",
    "TuyaAuthError",
    "TuyaConnectionError",
    "TuyaConnectionLost",
    "TuyaConnectionRefused",
    "TuyaError",
    "TuyaTimeoutError",
    "UnknownDpError",
    "ValidationError",
    "__version__",
    "connect",
    "open_home",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tuyagate' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
