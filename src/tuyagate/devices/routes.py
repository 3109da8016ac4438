"""The ways to reach a Tuya device: the LAN (one shared connection) and the cloud.

Both speak DP ids and wire values, so the device above them converts and validates once. The
LAN route of a sub-device goes through its gateway's connection (``cid``); the cloud route
turns DP ids into the codes the cloud wants, using the device's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tuyagate.deadline import Deadline
from tuyagate.errors import UnknownDpError
from tuyagate.schema import DpSchema

if TYPE_CHECKING:
    from tuyagate.cloud.models import StatusItem
    from tuyagate.lan.connection import DeviceConnection
    from tuyagate.lan.events import Event

__all__ = ["CloudApi", "CloudRoute", "LanRoute", "Route"]


class CloudApi(Protocol):
    """What the cloud route needs of a cloud client: a developer project's OpenAPI client
    (:class:`~tuyagate.cloud.client.TuyaCloudClient`) or the Smart Life app login's
    (:class:`~tuyagate.cloud.app_client.AppCloudClient`)."""

    async def status(self, device_id: str, *, deadline: Deadline | None = None) -> list[StatusItem]: ...

    async def send_commands(
        self,
        device_id: str,
        commands: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        deadline: Deadline | None = None,
    ) -> None: ...

    async def aclose(self) -> None: ...


class Route(Protocol):
    """One way to a device."""

    name: str

    async def read(self, *, deadline: Deadline) -> dict[str, Any]:
        """All DP values by DP id (wire form), by ``deadline``."""
        ...

    async def write(
        self, dps: Mapping[str, Any], values: Mapping[str, Any], *, deadline: Deadline
    ) -> Mapping[str, Any] | None:
        """Set DPs: ``dps`` is the validated wire form by DP id, ``values`` the caller's user values.

        Returns the DP values the device holds once it acknowledged, where the route learns them
        with the answer (None: take ``dps`` as applied).
        """
        ...


class LanRoute:
    """A device (or a gateway's sub-device) over its persistent LAN connection."""

    name = "lan"

    def __init__(self, connection: DeviceConnection, *, cid: str | None = None) -> None:
        self.connection = connection
        self.cid = cid

    @property
    def connected(self) -> bool:
        """True while the connection to the device is open (a sleepy device is awake)."""
        return self.connection.connected

    async def read(self, *, deadline: Deadline) -> dict[str, Any]:
        return await self.connection.status(cid=self.cid, deadline=deadline)

    async def write(self, dps: Mapping[str, Any], values: Mapping[str, Any], *, deadline: Deadline) -> dict[str, Any]:
        return await self.connection.set_dps(dps, cid=self.cid, deadline=deadline)

    @property
    def proven_on_connect(self) -> bool:
        """True when opening the connection needed the device's answer (the 3.4/3.5 key negotiation);
        on 3.1-3.3 a TCP accept proves nothing about the device behind it."""
        spec = self.connection.spec
        return spec is not None and spec.session_key

    async def ping(self, *, deadline: Deadline) -> bool:
        """A heartbeat on the open connection; True when the device answered it (False: no connection)."""
        await self.connection.heartbeat(deadline=deadline, reconnect=False)
        return self.connection.connected

    def listen(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Follow the connection's events (all of them: a sub-device's listener filters by ``cid``)."""
        return self.connection.listen(callback)


class CloudRoute:
    """A device through the Tuya cloud (or its emulation), by code."""

    name = "cloud"

    def __init__(self, client: CloudApi, device_id: str, schema: DpSchema) -> None:
        self.client = client
        self.device_id = device_id
        self.schema = schema

    async def read(self, *, deadline: Deadline) -> dict[str, Any]:
        items = await self.client.status(self.device_id, deadline=deadline)
        return self.schema.dps_from_cloud([{"code": item.code, "value": item.value} for item in items])

    async def write(self, dps: Mapping[str, Any], values: Mapping[str, Any], *, deadline: Deadline) -> None:
        unknown = [k for k in dps if self.schema.code_for(k) is None]
        if unknown:
            raise UnknownDpError(
                f"DP {', '.join(unknown)} has no code in the schema, so the cloud cannot set it",
                key=unknown[0],
                known=tuple(d.code for d in self.schema),
            )
        await self.client.send_commands(
            self.device_id,
            self.schema.encode_cloud({k: values_for(k, dps, values, self.schema) for k in dps}),
            deadline=deadline,
        )


def values_for(dp_id: str, dps: Mapping[str, Any], values: Mapping[str, Any], schema: DpSchema) -> Any:
    """The user value the caller gave for ``dp_id`` (by code or id), or the wire value decoded."""
    code = schema.code_for(dp_id)
    if code is not None and code in values:
        return values[code]
    if dp_id in values:
        return values[dp_id]
    return schema.from_wire(dp_id, dps[dp_id])
