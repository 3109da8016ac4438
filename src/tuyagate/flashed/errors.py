"""Errors specific to reflashed firmware.

Everything else a flashed backend raises comes from :mod:`tuyagate.errors`; the one case the shared tree
has no branch for is a firmware web password that was refused, which a caller must tell apart from a
device that is down (fix the credentials, not the network).
"""

from __future__ import annotations

from tuyagate.errors import TuyaError

__all__ = ["FlashedAuthError"]


class FlashedAuthError(TuyaError):
    """The firmware refused the user name or password (HTTP 401/403, or Tasmota's "Need user=..." answer)."""
