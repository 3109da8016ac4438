"""Bodies of the native API, each defined once: request bodies as pydantic models, answers as typed dicts.

A request body is a pydantic model because it must be validated (422 ``invalid_request``). An
answer is a ``TypedDict``: the handler builds it from the device types (mypy checks every key and
type), :func:`tuyagate.gateway.serialize.json_response` writes it with the pydantic serializer
of that same type (which drops nothing documented and adds nothing undocumented), and the OpenAPI
document shows that type's JSON schema. One definition, so the answer and its documentation
cannot drift apart, and no model is instantiated per request.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict  # pydantic reads TypedDicts from typing_extensions before 3.12

from tuyagate.device_api import CommandResult, Device, DeviceState, RouteHealth

__all__ = [
    "MAX_COMMANDS",
    "CommandItem",
    "CommandOut",
    "CommandsIn",
    "DeviceDetail",
    "DeviceList",
    "DeviceSummary",
    "ErrorBody",
    "ErrorOut",
    "HealthOut",
    "IndexOut",
    "RouteOut",
    "StatusOut",
    "command_out",
    "device_detail",
    "device_summary",
    "route_out",
    "status_out",
]

MAX_COMMANDS = 64


# ---------------------------------------------------------------- request bodies


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


# ---------------------------------------------------------------- answers


class ErrorBody(TypedDict):
    code: Annotated[str, Field(description="stable machine-readable error code (public API: added, never renamed)")]
    message: Annotated[str, Field(description="what went wrong and what to do, for humans")]
    details: NotRequired[
        Annotated[list[dict[str, Any]], Field(description="invalid_request: each problem with its location")]
    ]
    known: NotRequired[Annotated[list[str], Field(description="unknown_dp: the codes the device's schema has")]]
    may_be_applied: NotRequired[
        Annotated[
            bool,
            Field(
                description="true when the command had reached the device before the error (its answer was late, "
                "cut off or unreadable): it may be applied; read the state before repeating it"
            ),
        ]
    ]


class ErrorOut(TypedDict):
    """Every error of the native and Tasmota APIs has this shape."""

    error: ErrorBody


class RouteOut(TypedDict):
    name: Annotated[str, Field(description="lan, cloud, tasmota, ...")]
    healthy: bool
    last_ok: Annotated[float | None, Field(description="unix time of the last success")]
    last_error: Annotated[str | None, Field(description="the last failure, one line")]
    failures: Annotated[int, Field(description="consecutive failures")]
    next_retry: Annotated[float | None, Field(description="unix time the route is tried again when unhealthy")]


class DeviceSummary(TypedDict):
    id: str
    name: str
    backend: Annotated[str, Field(description="tuya-lan, tuya-cloud, tasmota, openbeken, esphome")]
    category: str
    product_name: str
    version: Annotated[str | None, Field(description="Tuya protocol version")]
    online: bool
    parent_id: Annotated[str | None, Field(description="the Zigbee gateway of a sub-device")]


class DeviceList(TypedDict):
    devices: list[DeviceSummary]


class DeviceWhere(DeviceSummary):
    """A device's summary with where it is and how its routes do: what every detailed answer shares."""

    ip: str | None
    port: int | None
    cid: Annotated[str | None, Field(description="a sub-device's node id on its gateway")]
    routes: Annotated[list[RouteOut], Field(description="each route's health, preferred first")]


class DeviceDetail(DeviceWhere):
    schema: Annotated[list[dict[str, Any]], Field(description="the DP schema: dp_id, code, type, values, mode")]


class StatusOut(TypedDict):
    device_id: str
    values: Annotated[dict[str, Any], Field(description="converted values by DP code")]
    dps: Annotated[dict[str, Any], Field(description="raw values by DP id")]
    route: Annotated[str, Field(description="the route that served the values: lan, cloud, cache, tasmota, ...")]
    updated_at: Annotated[float, Field(description="unix time of the values")]
    asleep: NotRequired[
        Annotated[bool, Field(description="battery devices only: asleep now, the values are from its last wake-up")]
    ]
    age: NotRequired[Annotated[float, Field(description="battery devices only: seconds since the values were seen")]]
    stale_after: NotRequired[
        Annotated[float, Field(description="battery devices only: the age in seconds past which the values are stale")]
    ]
    battery: NotRequired[
        Annotated[int | None, Field(description="battery devices only: battery level in percent, null if unknown")]
    ]


class CommandOut(TypedDict):
    device_id: str
    success: bool
    dps: Annotated[dict[str, Any], Field(description="the DPs that were sent")]
    route: Annotated[str, Field(description="the route that carried the command")]
    fallback: Annotated[
        bool, Field(description="true when the preferred route failed and another one carried the command")
    ]
    validated: Annotated[
        bool, Field(description="false when the device has no DP schema and the DP ids were sent unchecked")
    ]


class IndexOut(TypedDict):
    name: str
    version: str
    api: str
    events: str
    docs: str
    dashboard: str
    openapi: str
    metrics: str


class HealthOut(TypedDict):
    status: str
    devices: int
    online: int


def route_out(route: RouteHealth) -> RouteOut:
    return {
        "name": route.name,
        "healthy": route.healthy,
        "last_ok": route.last_ok,
        "last_error": route.last_error,
        "failures": route.failures,
        "next_retry": route.next_retry,
    }


def device_summary(device: Device) -> DeviceSummary:
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


def device_where(device: Device) -> DeviceWhere:
    info = device.info
    return {
        **device_summary(device),
        "ip": info.ip,
        "port": info.port,
        "cid": info.cid,
        "routes": [route_out(r) for r in device.routes()],
    }


def device_detail(device: Device) -> DeviceDetail:
    return {**device_where(device), "schema": device.schema_dict()}


def status_out(state: DeviceState) -> StatusOut:
    out: StatusOut = {
        "device_id": state.device_id,
        "values": state.values,
        "dps": state.dps,
        "route": state.route,
        "updated_at": state.updated_at,
    }
    if state.stale_after is not None:  # a battery-powered device: say how old the values are
        out["asleep"] = state.asleep
        out["age"] = round(state.age(time.time()), 3)
        out["stale_after"] = state.stale_after
        out["battery"] = state.battery
    return out


def command_out(result: CommandResult) -> CommandOut:
    return {
        "device_id": result.device_id,
        "success": True,
        "dps": result.dps,
        "route": result.route,
        "fallback": result.fallback,
        "validated": result.validated,
    }
