"""tuyagate: a fast, local HTTP API for every Tuya device.

Importing this package loads only the error tree and the version; the protocol core, the
transports, the gateway and the emulators are imported from their own subpackages.
"""

from __future__ import annotations

from tuyagate.errors import (
    CloudError,
    ConfigError,
    DeviceError,
    HandshakeError,
    IntegrityError,
    KeyMismatchError,
    NotFoundError,
    ProtocolError,
    TuyaConnectionError,
    TuyaConnectionLost,
    TuyaConnectionRefused,
    TuyaError,
    TuyaTimeoutError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "CloudError",
    "ConfigError",
    "DeviceError",
    "HandshakeError",
    "IntegrityError",
    "KeyMismatchError",
    "NotFoundError",
    "ProtocolError",
    "TuyaConnectionError",
    "TuyaConnectionLost",
    "TuyaConnectionRefused",
    "TuyaError",
    "TuyaTimeoutError",
    "ValidationError",
    "__version__",
]
