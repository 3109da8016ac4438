"""The stable machine codes of library errors, shared by every front end that answers with one.

The HTTP API (``{"error": {"code", ...}}``), the MQTT bridge's result topic and anything later answer
the same error with the same code, so clients need one table; it lives here, below the front ends,
with the HTTP status the gateway gives each code. Codes are public API: add, never rename.
"""

from __future__ import annotations

from tuyagate.errors import (
    CloudError,
    ConfigError,
    DeviceAsleepError,
    DeviceError,
    HandshakeError,
    LocalKeyError,
    NotFoundError,
    ProtocolError,
    TuyaAuthError,
    TuyaConnectionError,
    TuyaError,
    TuyaTimeoutError,
    UnknownDpError,
    ValidationError,
)

__all__ = ["ERROR_CODES", "code_for"]

# Most specific first: the first matching class wins. (error class, HTTP status, stable code)
ERROR_CODES: tuple[tuple[type[TuyaError], int, str], ...] = (
    (UnknownDpError, 422, "unknown_dp"),  # a code or DP id the device's schema lacks (``known`` lists its codes)
    (NotFoundError, 404, "not_found"),
    (ValidationError, 422, "invalid_value"),
    (ConfigError, 400, "bad_request"),
    (DeviceAsleepError, 409, "device_asleep"),  # a battery device between wake-ups: not broken, try later
    (TuyaTimeoutError, 504, "timeout"),
    (LocalKeyError, 502, "key_mismatch"),  # any version; KeyMismatchError (3.4/3.5) is one
    (TuyaAuthError, 502, "auth_failed"),
    (HandshakeError, 502, "device_unreachable"),
    (TuyaConnectionError, 502, "device_unreachable"),
    (CloudError, 502, "cloud_error"),
    (DeviceError, 502, "device_error"),
    (ProtocolError, 502, "device_error"),
)


def code_for(exc: TuyaError) -> tuple[int, str]:
    """The HTTP status and stable code of a library error."""
    for cls, status, code in ERROR_CODES:
        if isinstance(exc, cls):
            return status, code
    return 502, "device_error"
