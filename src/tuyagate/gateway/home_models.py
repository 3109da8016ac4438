"""Answers of the whole-home endpoints the dashboard reads: the home at once, history, recent events.

Typed dicts like :mod:`tuyagate.gateway.models` (one definition for the answer and its OpenAPI schema).
The home answer carries each distinct DP schema once (``schemas``) and each device names its schema
by index: 200 plugs of one product share one schema, so the first load of a big home stays small.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict

from tuyagate.device_api import Device, DeviceEvent, DeviceState
from tuyagate.gateway.models import DeviceWhere, StatusOut, device_where, status_out

__all__ = [
    "EventOut",
    "GatewayInfo",
    "HistoryOut",
    "HomeDevice",
    "HomeOut",
    "RecentEventsOut",
    "event_out",
    "home_out",
]


class HomeDevice(DeviceWhere):
    schema: Annotated[int, Field(description="index of the device's DP schema in `schemas`")]
    state: Annotated[StatusOut | None, Field(description="the last known state (no device is asked)")]
    history: Annotated[list[str], Field(description="DP codes with a history")]


class GatewayInfo(TypedDict):
    version: str
    history: Annotated[bool, Field(description="numeric DPs are kept as history")]
    cloud_compat: Annotated[bool, Field(description="the Tuya-cloud-compatible API is configured")]
    cloud_sync: Annotated[bool, Field(description="a cloud login is there to sync devices from")]


class HomeOut(TypedDict):
    gateway: GatewayInfo
    devices: list[HomeDevice]
    schemas: Annotated[
        list[list[dict[str, Any]]], Field(description="the distinct DP schemas, as in GET /api/v1/devices/{id}")
    ]


class HistoryOut(TypedDict):
    device_id: str
    code: str
    since: Annotated[float, Field(description="unix time of the span's start")]
    points: Annotated[list[list[float]], Field(description="[unix time, value] pairs, oldest first")]


class EventOut(TypedDict):
    kind: Annotated[str, Field(description="state, online, offline or added (served since the gateway started)")]
    values: dict[str, Any]
    dps: dict[str, Any]
    route: str | None
    at: float


class RecentEventsOut(TypedDict):
    device_id: str
    events: Annotated[list[EventOut], Field(description="the device's last events, oldest first")]


def event_out(event: DeviceEvent) -> EventOut:
    return {"kind": event.kind, "values": event.values, "dps": event.dps, "route": event.route, "at": event.at}


SchemaCache = dict[int, tuple[object, str, list[dict[str, Any]]]]


def home_out(
    devices: list[Device], gateway: GatewayInfo, history_of: dict[str, list[str]], cache: SchemaCache | None = None
) -> HomeOut:
    """Every device with its routes, schema (by index) and last known state.

    ``cache`` keeps each schema object's description between answers (describing a 200-device home's
    schemas costs ~20 ms; a schema object is kept as long as its device); it is left holding only the
    schemas of ``devices``.
    """
    schemas: list[list[dict[str, Any]]] = []
    index: dict[str, int] = {}
    out: list[HomeDevice] = []
    cache = {} if cache is None else cache
    used: SchemaCache = {}
    for device in devices:
        source = device.schema
        hit = cache.get(id(source))
        if hit is None or hit[0] is not source:
            described = device.schema_dict()
            hit = (source, json.dumps(described, sort_keys=True, default=str), described)
        used[id(source)] = hit
        _, key, schema = hit
        number = index.get(key)
        if number is None:
            number = index[key] = len(schemas)
            schemas.append(schema)
        state: DeviceState | None = device.cached_state()
        out.append(
            {
                **device_where(device),
                "schema": number,
                "state": status_out(state) if state is not None else None,
                "history": history_of.get(device.info.id, []),
            }
        )
    cache.clear()
    cache.update(used)
    return {"gateway": gateway, "devices": out, "schemas": schemas}
