"""The one exception tree of tuyagate.

Every failure a caller can see is a :class:`TuyaError`. Callers catch the branch they can act
on (a wrong key is not a timeout, a refused port is not a protocol error), never an error dict
or a sentinel return. Messages say what happened and what to do, and never contain a secret.
"""

from __future__ import annotations

__all__ = [
    "CloudAuthError",
    "CloudError",
    "ConfigError",
    "DeviceAsleepError",
    "DeviceBusyError",
    "DeviceError",
    "HandshakeError",
    "HandshakeTimeoutError",
    "IntegrityError",
    "KeyMismatchError",
    "LocalKeyError",
    "NotFoundError",
    "ProtocolError",
    "TuyaAuthError",
    "TuyaConnectionError",
    "TuyaConnectionLost",
    "TuyaConnectionRefused",
    "TuyaError",
    "TuyaTimeoutError",
    "UnknownDpError",
    "ValidationError",
]


class TuyaError(Exception):
    """Base of every error raised by tuyagate."""

    #: True when a command had reached the device before this error (its answer came too late, was cut
    #: off or could not be read): the device may have applied it. tuyagate then never sends it again by
    #: another route, which could apply it twice; read the state before repeating it.
    may_be_applied: bool = False


class ConfigError(TuyaError):
    """The caller gave an impossible configuration (bad key length, unknown version, ...)."""


class NotFoundError(TuyaError):
    """A device, DP or resource that was asked for does not exist."""


class ValidationError(TuyaError):
    """A value does not fit the DP schema; the message names the allowed range or options."""


class UnknownDpError(ValidationError):
    """A command names a DP id or code the device's schema does not have.

    ``known`` lists the codes the schema does have, so a front end can show them (the gateway
    answers 422 ``unknown_dp``). A device without any schema accepts DP ids as they are instead.
    """

    def __init__(self, message: str, *, key: str, known: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.known = known


class ProtocolError(TuyaError):
    """The peer sent bytes that are not a valid frame or payload for the protocol version."""


class IntegrityError(ProtocolError):
    """A frame failed its CRC, HMAC or GCM tag check: corrupted, or encrypted with another key."""


class TuyaConnectionError(TuyaError):
    """The transport to a device or service failed."""


class TuyaConnectionRefused(TuyaConnectionError):
    """Nothing accepts connections at that address and port (device off, wrong IP or port)."""


class TuyaConnectionLost(TuyaConnectionError):
    """An open connection closed or broke before the answer arrived."""


class TuyaTimeoutError(TuyaError, TimeoutError):
    """A deadline passed before the device or service answered."""


class DeviceBusyError(TuyaTimeoutError):
    """The deadline passed while the request waited behind earlier requests to the same device.

    The device itself may be fine (one request at a time is all a Tuya device serves), so this is
    no reason to think its connection is broken.
    """


class DeviceAsleepError(TuyaError):
    """A battery-powered device is asleep: it cannot take a command until it wakes up.

    Such a device wakes every few minutes, pushes its values and sleeps again with its radio off,
    so nothing is broken; reads are answered from the values of its last wake-up. ``wakes_every``
    is the configured wake interval in seconds (None when unknown), ``last_seen`` the unix time
    it was last awake (None when never).
    """

    def __init__(self, message: str, *, wakes_every: float | None = None, last_seen: float | None = None) -> None:
        super().__init__(message)
        self.wakes_every = wakes_every
        self.last_seen = last_seen


class TuyaAuthError(TuyaError):
    """The peer refused our credentials: a wrong local key, firmware password or cloud secret.

    Retrying with the same credentials cannot help, so routes fail fast on it instead of waiting
    out the deadline; the message says which credential to fix (never its value).
    """


class LocalKeyError(TuyaAuthError):
    """The device and we do not share the local key (wrong key, or the device was re-paired).

    Every version where the protocol can tell raises it at once instead of timing out: 3.4/3.5
    during the handshake (as its subclass :class:`KeyMismatchError`); 3.2/3.3 when the device
    answers with a frame whose framing checks out but whose payload does not decrypt with our key
    (real devices answer a request they cannot decrypt with return code 1 and an error text
    encrypted with their own key), or when it closes a new connection right after reading our
    first encrypted request; 3.1 when a frame's MD5 tag fails (3.1 does not encrypt queries, so
    only commands and pushes can tell). The message says which version or key to check.
    """


class HandshakeError(TuyaError):
    """The 3.4/3.5 session-key negotiation did not complete."""


class KeyMismatchError(HandshakeError, LocalKeyError):
    """The 3.4/3.5 handshake answer failed its check: the device and we do not share the local key."""


class HandshakeTimeoutError(HandshakeError, TuyaTimeoutError):
    """The device accepted TCP but never answered the 3.4/3.5 handshake (tinytuya's error 914)."""


class DeviceError(TuyaError):
    """The device answered, but with an error (a non-zero return code or an error text)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class CloudError(TuyaError):
    """The Tuya cloud (or an emulation of it) answered ``success: false``."""

    def __init__(self, code: int | str, msg: str, *, hint: str | None = None) -> None:
        text = f"cloud error {code}: {msg}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)
        self.code = code
        self.msg = msg
        self.hint = hint


class CloudAuthError(CloudError, TuyaAuthError):
    """The cloud refused the project's credentials (secret, access id or signature: 1001, 1004, 1005, 1007)."""
