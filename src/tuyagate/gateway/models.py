"""Request and response bodies of the native API, as pydantic models.

They document the API in ``/openapi.json`` and validate what callers send. Handlers answer with
plain JSON built from the device types (faster than re-validating every answer), shaped to match
these models; the tests check that the two agree.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tuyagate.device_api import Device, DeviceState, RouteHealth

__all__ = [
    "CommandItem",
    "CommandOut",
    "CommandsIn",
    "DeviceDetail",
    "DeviceList",
    "DeviceSummary",
    "ErrorOut",
    "RouteOut",
    "StatusOut",
    "device_detail",
    "device_summary",
    "route_out",
    "status_out",
]

MAX_COMMANDS = 64


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable error code")
    message: str = Field(description="what went wrong, for humans")


class ErrorOut(BaseModel):
    error: ErrorBody


class RouteOut(BaseModel):
    name: str
    healthy: bool
    last_ok: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_retry: float | None = None


class DeviceSummary(BaseModel):
    id: str
    name: str
    backend: str
    category: str
    product_name: str
    version: str | None
    online: bool
    parent_id: str | None


class DeviceList(BaseModel):
    devices: list[DeviceSummary]


class DeviceDetail(DeviceSummary):
    ip: str | None
    port: int | None
    cid: str | None
    routes: list[RouteOut]
    schema_: list[dict[str, Any]] = Field(alias="schema")


class StatusOut(BaseModel):
    device_id: str
    values: dict[str, Any] = Field(description="converted values by DP code")
    dps: dict[str, Any] = Field(description="raw values by DP id")
    route: str = Field(description="the route that served the values: lan, cloud, cache, tasmota, ...")
    updated_at: float


class CommandItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64, examples=["switch_1"])
    value: Any = Field(examples=[True])


class CommandsIn(BaseModel):
    """Either the Tuya cloud shape (``commands``) or raw DP ids (``dps``), not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"commands": [{"code": "switch_1", "value": True}]}, {"dps": {"1": True}}]},
    )
    commands: list[CommandItem] | None = Field(default=None, min_length=1, max_length=MAX_COMMANDS)
    dps: dict[str, Any] | None = Field(default=None, min_length=1, max_length=MAX_COMMANDS)

    @model_validator(mode="after")
    def _one_of(self) -> CommandsIn:
        if (self.commands is None) == (self.dps is None):
            raise ValueError("give exactly one of 'commands' or 'dps'")
        return self

    def values(self) -> dict[str, Any]:
        if self.commands is not None:
            return {item.code: item.value for item in self.commands}
        assert self.dps is not None
        return dict(self.dps)


class CommandOut(BaseModel):
    device_id: str
    success: bool
    dps: dict[str, Any] = Field(description="the DPs that were sent")
    route: str
    fallback: bool = Field(description="true when the preferred route failed and another one carried the command")
    validated: bool = Field(description="false when the device has no DP schema and the DP ids were sent unchecked")


def route_out(route: RouteHealth) -> dict[str, Any]:
    return {
        "name": route.name,
        "healthy": route.healthy,
        "last_ok": route.last_ok,
        "last_error": route.last_error,
        "failures": route.failures,
        "next_retry": route.next_retry,
    }


def device_summary(device: Device) -> dict[str, Any]:
    info = device.info
    return {
        "id": info.id,
        "name": info.name,
        "backend": info.backend,
        "category": info.category,
        "product_name": info.product_name,
        "version": info.version,
        "online": device.online,
        "parent_id": info.parent_id,
    }


def device_detail(device: Device) -> dict[str, Any]:
    info = device.info
    out = device_summary(device)
    out.update(
        ip=info.ip,
        port=info.port,
        cid=info.cid,
        routes=[route_out(r) for r in device.routes()],
        schema=device.schema_dict(),
    )
    return out


def status_out(state: DeviceState) -> dict[str, Any]:
    return {
        "device_id": state.device_id,
        "values": state.values,
        "dps": state.dps,
        "route": state.route,
        "updated_at": state.updated_at,
    }
