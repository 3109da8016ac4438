"""What one running gateway holds, kept on ``app.state.gateway`` (never in module globals).

It also owns the one place where device calls get their deadline, so that no HTTP request can hang
on a device that vanished: each request gets one absolute :class:`~tuyagate.deadline.Deadline`,
``request_timeout`` from its arrival, which the router, the routes, the LAN connection and the cloud
client all spend from. Should a device implementation ignore it, the call is cut off a little past
that same deadline (:mod:`tuyagate.gateway.cut_off`) and answered with 504.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from tuyagate.deadline import Deadline
from tuyagate.device_api import CommandResult, Device, DeviceManager, DeviceState
from tuyagate.errors import TuyaTimeoutError
from tuyagate.gateway.auth import TokenStore
from tuyagate.gateway.cloud_tokens import CloudTokens
from tuyagate.gateway.cut_off import CutOff
from tuyagate.gateway.events_api import EventStreams
from tuyagate.gateway.guard import Guard
from tuyagate.gateway.metrics import Metrics
from tuyagate.gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from tuyagate.gateway.actions_api import Actions
    from tuyagate.gateway.recorder import Recorder

__all__ = ["GatewayState"]

T = TypeVar("T")
_GRACE = 0.5  # extra seconds the gateway waits past the request's deadline for a device that ignores it


@dataclass
class GatewayState:
    settings: GatewaySettings
    manager: DeviceManager
    metrics: Metrics
    streams: EventStreams
    guard: Guard
    tokens: TokenStore
    cloud_tokens: CloudTokens | None = None  # when the Tuya-cloud-compatible API is configured
    recorder: Recorder | None = None  # the history and recent events (the dashboard's device page)
    actions: Actions | None = None  # scan and cloud sync
    schema_cache: dict[int, tuple[object, str, list[dict[str, Any]]]] = field(default_factory=dict)  # GET /api/v1/home
    cut_off: CutOff = field(default_factory=CutOff)  # device calls still running past their deadline

    def deadline(self) -> Deadline:
        """The deadline of a request that arrives now."""
        return Deadline.after(self.settings.request_timeout)

    async def _bounded(self, device: Device, deadline: Deadline, call: Awaitable[T]) -> T:
        try:
            return await self.cut_off.run(deadline.at + _GRACE, call)
        except TimeoutError as exc:
            if isinstance(exc, TuyaTimeoutError):
                raise
            late = f"device {device.info.id} did not answer within {self.settings.request_timeout:.1f} s"
            raise TuyaTimeoutError(late) from None

    async def read(self, device: Device, *, refresh: bool, deadline: Deadline | None = None) -> DeviceState:
        """A status read by the request's deadline; cached when ``refresh`` is false and the cache is fresh."""
        state = None if refresh else device.fresh_state()
        if state is None:
            own = deadline or self.deadline()
            state = await self._bounded(device, own, device.status(refresh=refresh, deadline=own))
        self.metrics.count_device_call("status", state.route)
        return state

    async def command(
        self, device: Device, values: Mapping[str, Any], *, deadline: Deadline | None = None
    ) -> CommandResult:
        own = deadline or self.deadline()
        result = await self._bounded(device, own, device.set(values, deadline=own))
        self.metrics.count_device_call("command", result.route, fallback=result.fallback)
        return result
