"""Sub-devices (Zigbee/BLE children) of a gateway, all through the gateway's one connection.

A gateway serves its children over its own socket, session key and sequence numbers, and
answers one request at a time, so a child is only a ``cid`` attached to the parent's requests:
many children, one connection, the parent's lock serializing them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuyagate.deadline import Deadline
from tuyagate.lan.events import Subscription

if TYPE_CHECKING:
    from tuyagate.lan.connection import DeviceConnection

__all__ = ["SubDevice"]


class SubDevice:
    """A handle on one child of a gateway (``gateway.child(cid)``)."""

    __slots__ = ("cid", "parent")

    def __init__(self, parent: DeviceConnection, cid: str) -> None:
        self.parent = parent
        self.cid = cid

    def __repr__(self) -> str:
        return f"SubDevice(cid={self.cid!r}, gateway={self.parent.device_id!r})"

    async def status(self, *, timeout: float | None = None, deadline: Deadline | None = None) -> dict[str, Any]:
        """The child's DP values (a DeviceError when the gateway says the child is unknown or offline)."""
        return await self.parent.status(cid=self.cid, timeout=timeout, deadline=deadline)

    async def set_dps(
        self,
        dps: Mapping[str, Any] | Mapping[int, Any],
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> dict[str, Any]:
        """Set the child's DP values; returns them as the gateway holds them after its ACK."""
        return await self.parent.set_dps(dps, cid=self.cid, timeout=timeout, deadline=deadline)

    async def online(self, *, timeout: float | None = None, deadline: Deadline | None = None) -> bool:
        """Whether the gateway reports the child online."""
        report = await self.parent.subdevices_online([self.cid], timeout=timeout, deadline=deadline)
        return report.get(self.cid, False)

    def events(self, *, maxsize: int = 256) -> Subscription:
        """This child's STATUS pushes (plus the gateway's connection and online events)."""
        return self.parent.events(cid=self.cid, maxsize=maxsize)
