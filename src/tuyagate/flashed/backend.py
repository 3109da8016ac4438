"""What a firmware client offers the device adapter: a code-keyed view of one reflashed device.

Each client (Tasmota, OpenBeken, ESPHome) reads and writes values keyed by Tuya-style codes and
describes them as a :class:`~tuyagate.schema.DpSchema` (see synthetic.py);
:class:`tuyagate.flashed.device.FlashedDevice` turns any of them into a :class:`tuyagate.device_api.Device`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tuyagate.flashed.http_base import HttpTransport
from tuyagate.schema import DpSchema

__all__ = ["Description", "FlashedBackend"]


@dataclass(frozen=True, slots=True)
class Description:
    """What a device says about itself: its DP schema, firmware and name, and the state read meanwhile."""

    schema: DpSchema
    product: str  # "Tasmota", "OpenBeken", "ESPHome"
    firmware: str | None = None
    name: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


class FlashedBackend(Protocol):
    """The code-keyed client interface every firmware client implements."""

    @property
    def kind(self) -> str:
        """ "tasmota", "openbeken" or "esphome": DeviceInfo.backend and the route name."""
        ...

    @property
    def transport(self) -> HttpTransport: ...

    async def describe(self, *, timeout: float | None = None) -> Description: ...

    async def status(self, *, timeout: float | None = None) -> dict[str, Any]:
        """Current values by code."""
        ...

    async def set(self, values: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Send already validated values by code; returns the values the answer confirmed (may be empty)."""
        ...

    def watch(self) -> AsyncIterator[dict[str, Any]] | None:
        """Pushed changes by code, or None when the firmware has no push channel (the adapter polls)."""
        ...

    async def close(self) -> None: ...
