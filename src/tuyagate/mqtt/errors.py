"""The MQTT bridge's one error of its own, importable without loading the MQTT client library."""

from __future__ import annotations

from tuyagate.errors import TuyaConnectionError

__all__ = ["LinkError"]


class LinkError(TuyaConnectionError):
    """The broker could not be reached, refused us, or the connection broke."""
