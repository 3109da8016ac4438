"""What one running gateway holds, kept on ``app.state.gateway`` (never in module globals).

It also owns the one place where device calls get their deadline, so that no HTTP request can hang
on a device that vanished: the device is asked with ``timeout=request_timeout`` and, in case its own
deadline handling fails, the call is cut off a little later and answered with 504.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tuyagate.device_api import CommandResult, Device, DeviceManager, DeviceState
from tuyagate.errors import TuyaTimeoutError
from tuyagate.gateway.auth import TokenStore
from tuyagate.gateway.cloud_tokens import CloudTokens
from tuyagate.gateway.events_api import EventHub
from tuyagate.gateway.guard import Guard
from tuyagate.gateway.metrics import Metrics
from tuyagate.gateway.settings import GatewaySettings

__all__ = ["GatewayState"]

T = TypeVar("T")
_GRACE = 0.5  # extra seconds the gateway waits past the device's own deadline


@dataclass
class GatewayState:
    settings: GatewaySettings
    manager: DeviceManager
    metrics: Metrics
    hub: EventHub
    guard: Guard
    tokens: TokenStore
    cloud_tokens: CloudTokens | None = None  # when the Tuya-cloud-compatible API is configured

    async def _deadline(self, what: str, call: Awaitable[T]) -> T:
        limit = self.settings.request_timeout + _GRACE
        try:
            async with asyncio.timeout(limit):
                return await call
        except TimeoutError as exc:
            if isinstance(exc, TuyaTimeoutError):
                raise
            raise TuyaTimeoutError(f"{what} did not answer within {limit:.1f} s") from None

    async def read(self, device: Device, *, refresh: bool) -> DeviceState:
        """A status read with the gateway's deadline; cached when ``refresh`` is false and the cache is fresh."""
        state = await self._deadline(
            f"device {device.info.id}", device.status(refresh=refresh, timeout=self.settings.request_timeout)
        )
        self.metrics.count_device_call("status", state.route)
        return state

    async def command(self, device: Device, values: Mapping[str, Any]) -> CommandResult:
        result = await self._deadline(
            f"device {device.info.id}", device.set(values, timeout=self.settings.request_timeout)
        )
        self.metrics.count_device_call("command", result.route, fallback=result.fallback)
        return result
