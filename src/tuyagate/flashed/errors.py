"""Errors specific to reflashed firmware.

Everything else a flashed backend raises comes from :mod:`tuyagate.errors`; the one case the shared tree
names a firmware web password that was refused as :class:`~tuyagate.errors.TuyaAuthError`, which a caller
must tell apart from a device that is down (fix the credentials, not the network).
"""

from __future__ import annotations

from tuyagate.errors import TuyaAuthError

__all__ = ["FlashedAuthError"]


class FlashedAuthError(TuyaAuthError):
    """The firmware refused the user name or password (HTTP 401/403, or Tasmota's "Need user=..." answer)."""
